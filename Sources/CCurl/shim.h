// Shims for libcurl's variadic functions, which Swift cannot call directly, and for naming the
// thread that drives them.
#ifndef CCURL_SHIM_H
#define CCURL_SHIM_H
#include <pthread.h>
#include <curl/curl.h>

// pthread_setname_np is a GNU extension: glibc declares it only under _GNU_SOURCE, which would
// change system types under the Glibc module Swift already imported. Declared here as glibc
// defines it, it names the calling thread (the kernel keeps 15 bytes and a NUL).
extern int pthread_setname_np(pthread_t thread, const char *name);
static inline int CCurl_name_this_thread(const char *name) { return pthread_setname_np(pthread_self(), name); }

// curl_easy_setopt is variadic: one typed wrapper per argument kind.
static inline CURLcode CCurl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_offset(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode CCurl_setopt_write_callback(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, f); }
static inline CURLcode CCurl_setopt_header_callback(CURL *h, size_t (*f)(char *, size_t, size_t, void *)) { return curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, f); }

// curl_easy_getinfo is variadic too.
static inline CURLcode CCurl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode CCurl_getinfo_offset(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode CCurl_getinfo_pointer(CURL *h, CURLINFO i, void **v) { return curl_easy_getinfo(h, i, v); }

// curl_multi_setopt is variadic.
static inline CURLMcode CCurl_multi_setopt_long(CURLM *m, CURLMoption o, long v) { return curl_multi_setopt(m, o, v); }
#endif
