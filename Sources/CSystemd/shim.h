// libsystemd's journal and notify APIs. Nothing here is variadic that the Journal module needs
// (it calls sd_journal_sendv and sd_notify directly), so this header only gathers the includes.
#ifndef CSYSTEMD_SHIM_H
#define CSYSTEMD_SHIM_H
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-daemon.h>
#endif
