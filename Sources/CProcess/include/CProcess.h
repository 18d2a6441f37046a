// Process-wide C settings the executable makes once at start, which Swift's Glibc module does
// not export.
#ifndef CPROCESS_H
#define CPROCESS_H

// Keeps blocks of 256 KiB and more in their own mappings, returned to the system when freed:
// glibc otherwise raises its mmap threshold after the first large free, and from then on a
// /metrics rendering of many megabytes stays in the heap after the scrapes that held it end.
void CProcess_keep_large_blocks_mapped(void);

#endif
