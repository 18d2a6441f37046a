// Holds the revision string defined at build time.
#include "CBuildInfo.h"

#ifndef AOAI_CANARY_REVISION
#define AOAI_CANARY_REVISION "unknown"
#endif

const char *CBuildInfo_revision(void) { return AOAI_CANARY_REVISION; }
