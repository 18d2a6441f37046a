// zlib: gzip for the metrics endpoint. deflateInit2 is a macro (it passes the library's version
// and the stream's size), which Swift cannot call: this shim does.
#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>

// A deflate stream that writes the gzip format (window bits 15 + 16), at `level`.
static inline int CZlib_deflate_init_gzip(z_stream *stream, int level) {
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
#endif
