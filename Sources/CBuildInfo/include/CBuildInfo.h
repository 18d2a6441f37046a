// The source revision the binary was built from. The Makefile passes it in the environment
// (AOAI_CANARY_REVISION), Package.swift turns it into a define for CBuildInfo.c only, so a new
// revision recompiles one C file rather than every module.
#ifndef CBUILDINFO_H
#define CBUILDINFO_H
const char *CBuildInfo_revision(void);
#endif
