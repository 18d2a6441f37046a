// Process-wide C settings the executable makes once at start, which Swift's Glibc module does
// not export.
#ifndef CPROCESS_H
#define CPROCESS_H

// Keeps blocks of 256 KiB and more in their own mappings, returned to the system when freed:
// glibc otherwise raises its mmap threshold after the first large free, and from then on a
// /metrics rendering of many megabytes stays in the heap after the scrapes that held it end.
void CProcess_keep_large_blocks_mapped(void);

// Gives the heap's free pages back to the system (malloc_trim): after a reload, which frees a
// whole configuration's worth of small blocks, so resident memory returns to where it was.
void CProcess_return_free_memory(void);

#endif
