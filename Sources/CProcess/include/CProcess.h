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

// As PID 1 (a container's first process), forks: the child returns and runs the program; this
// process stays PID 1 and only reaps every process that ends in the container (an orphaned
// grandchild of `az` would otherwise stay a zombie) and passes each signal it gets on to the
// child (PID 1 ignores those it has no handler for), exiting with the child's status. Anywhere
// else it returns at once. Call it first, before any thread starts.
void CProcess_run_as_init_when_pid1(void);

#endif
