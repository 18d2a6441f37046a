// OpenSSL's libcrypto: PEM parsing, digests, RSA signatures, and issuing test certificates. Nothing the Crypto module calls is
// variadic, so this header only gathers the includes.
#ifndef CCRYPTO_SHIM_H
#define CCRYPTO_SHIM_H
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/rand.h>
#endif
