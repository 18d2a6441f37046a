// Empty translation unit: SwiftPM needs one source file in a C target.
#include "CBuildInfo.h"
