// libyaml's parser API; called directly from Swift, so this header only gathers the include.
#ifndef CYAML_SHIM_H
#define CYAML_SHIM_H
#include <yaml.h>
#endif
