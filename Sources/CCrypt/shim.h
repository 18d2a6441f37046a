// libcrypt (libxcrypt on Debian) for the metrics endpoint's basic-auth password hashes.
#ifndef CCRYPT_SHIM_H
#define CCRYPT_SHIM_H
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

// 1 when `password` hashes to `hash` under the hash's own method and settings, 0 when it does
// not, -1 when libcrypt cannot use `hash` as a setting (an unknown prefix or a malformed hash).
// crypt_data is 32 KiB: it lives on the heap, one per call, so calls may run on any thread.
static inline int CCrypt_matches(const char *password, const char *hash) {
    struct crypt_data *data = calloc(1, sizeof(struct crypt_data));
    if (data == NULL) return -1;
    const char *computed = crypt_r(password, hash, data);
    int result;
    if (computed == NULL || computed[0] == '*') {
        result = -1;
    } else {
        size_t length = strlen(hash);
        unsigned char difference = strlen(computed) == length ? 0 : 1;
        for (size_t i = 0; i < length && computed[i] != 0; i++) difference |= (unsigned char)(computed[i] ^ hash[i]);
        result = difference == 0 ? 1 : 0;
    }
    explicit_bzero(data, sizeof(struct crypt_data));
    free(data);
    return result;
}
#endif
