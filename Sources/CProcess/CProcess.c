// See CProcess.h.
#include "CProcess.h"
#include <malloc.h>

void CProcess_keep_large_blocks_mapped(void) {
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

void CProcess_return_free_memory(void) {
    malloc_trim(0);
}
