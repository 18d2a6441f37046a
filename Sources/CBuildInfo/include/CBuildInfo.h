// The source revision the binary was built from, passed by the Makefile as
// -Xcc -DAOAI_CANARY_REVISION='"abc1234"'; Swift cannot read compiler-defined strings otherwise.
#ifndef CBUILDINFO_H
#define CBUILDINFO_H
#ifndef AOAI_CANARY_REVISION
#define AOAI_CANARY_REVISION "unknown"
#endif
static inline const char *CBuildInfo_revision(void) { return AOAI_CANARY_REVISION; }
#endif
