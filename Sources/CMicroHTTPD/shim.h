// Shims for libmicrohttpd's variadic functions, which Swift cannot call directly.
#ifndef CMICROHTTPD_SHIM_H
#define CMICROHTTPD_SHIM_H
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

// MHD_start_daemon takes its options as a variadic list: this shim passes them as one
// MHD_OPTION_ARRAY instead, so optional ones (TLS) can be left out. The daemon listens on a socket
// the caller already bound (so the caller controls address families and can hand over a
// socket-activated descriptor). The PEM strings must outlive the daemon; NULL leaves one out.
static inline struct MHD_Daemon *CMicroHTTPD_start(unsigned int flags,
                                                   int listen_fd,
                                                   MHD_AccessHandlerCallback handler, void *handler_cls,
                                                   MHD_RequestCompletedCallback completed, void *completed_cls,
                                                   MHD_NotifyConnectionCallback notify, void *notify_cls,
                                                   unsigned int thread_pool_size,
                                                   unsigned int connection_timeout,
                                                   unsigned int connection_limit,
                                                   unsigned int per_ip_connection_limit,
                                                   size_t connection_memory_limit,
                                                   const char *tls_key_pem,
                                                   const char *tls_cert_pem,
                                                   const char *tls_trust_pem,
                                                   const char *tls_priorities) {
    struct MHD_OptionItem options[16];
    int count = 0;
#define CMHD_OPTION(which, number, pointer) \
    options[count].option = (which); options[count].value = (intptr_t)(number); options[count].ptr_value = (void *)(pointer); count++
    CMHD_OPTION(MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL);
    CMHD_OPTION(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed, completed_cls);
    if (notify != NULL) { CMHD_OPTION(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify, notify_cls); }
    if (thread_pool_size > 1) { CMHD_OPTION(MHD_OPTION_THREAD_POOL_SIZE, thread_pool_size, NULL); }
    CMHD_OPTION(MHD_OPTION_CONNECTION_TIMEOUT, connection_timeout, NULL);
    CMHD_OPTION(MHD_OPTION_CONNECTION_LIMIT, connection_limit, NULL);
    CMHD_OPTION(MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip_connection_limit, NULL);
    CMHD_OPTION(MHD_OPTION_CONNECTION_MEMORY_LIMIT, connection_memory_limit, NULL);
    if (tls_key_pem != NULL) { CMHD_OPTION(MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key_pem); }
    if (tls_cert_pem != NULL) { CMHD_OPTION(MHD_OPTION_HTTPS_MEM_CERT, 0, tls_cert_pem); }
    if (tls_trust_pem != NULL) { CMHD_OPTION(MHD_OPTION_HTTPS_MEM_TRUST, 0, tls_trust_pem); }
    if (tls_priorities != NULL) { CMHD_OPTION(MHD_OPTION_HTTPS_PRIORITIES, 0, tls_priorities); }
    CMHD_OPTION(MHD_OPTION_END, 0, NULL);
#undef CMHD_OPTION
    return MHD_start_daemon(flags, 0, NULL, NULL, handler, handler_cls, MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

// True when the DER certificate has no extended key usage, or one that includes clientAuth or
// anyExtendedKeyUsage.
static inline int CMicroHTTPD_allows_client_auth(const gnutls_datum_t *der) {
    gnutls_x509_crt_t certificate;
    if (gnutls_x509_crt_init(&certificate) != GNUTLS_E_SUCCESS) return 0;
    int allowed = 0;
    if (gnutls_x509_crt_import(certificate, der, GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS) {
        char oid[128];
        int any = 0;
        for (unsigned int index = 0;; index++) {
            size_t size = sizeof(oid);
            int result = gnutls_x509_crt_get_key_purpose_oid(certificate, index, oid, &size, NULL);
            if (result == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) { allowed = any == 0 || allowed; break; }
            if (result < 0) { allowed = 0; break; }
            any = 1;
            if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0 || strcmp(oid, GNUTLS_KP_ANY) == 0) allowed = 1;
        }
    }
    gnutls_x509_crt_deinit(certificate);
    return allowed;
}

/// What a TLS client showed of itself: see CMicroHTTPD_peer_certificate.
enum CMicroHTTPDPeerCertificate {
    CMicroHTTPDPeerNotTLS = 0,
    CMicroHTTPDPeerNone = 1,
    CMicroHTTPDPeerVerified = 2,
    CMicroHTTPDPeerUnverified = 3,
};

// Whether the connection is TLS, and if so whether the client sent a certificate that chains to
// the trusted CAs (MHD_OPTION_HTTPS_MEM_TRUST), is within its validity period and may be used
// for TLS client authentication (its extended key usage, when it has one, includes clientAuth
// or any, as Go's crypto/tls requires of the exporter-toolkit's clients). libmicrohttpd asks for client
// certificates when it has CAs to trust, but leaves checking them to the caller.
static inline enum CMicroHTTPDPeerCertificate CMicroHTTPD_peer_certificate(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (info == NULL || info->tls_session == NULL) return CMicroHTTPDPeerNotTLS;
    gnutls_session_t session = (gnutls_session_t)info->tls_session;
    unsigned int chain_length = 0;
    if (gnutls_certificate_get_peers(session, &chain_length) == NULL || chain_length == 0) return CMicroHTTPDPeerNone;
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0) return CMicroHTTPDPeerUnverified;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &chain_length);
    return CMicroHTTPD_allows_client_auth(&chain[0]) ? CMicroHTTPDPeerVerified : CMicroHTTPDPeerUnverified;
}

// The connection's socket, for shutting down a connection the server evicts from another thread
// (libmicrohttpd notices on its next poll and closes it itself; the descriptor stays its own).
static inline int CMicroHTTPD_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

// The pointer the connection-notify callback stored for this connection.
static inline void *CMicroHTTPD_socket_context(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info == NULL ? NULL : info->socket_context;
}

// MHD_get_connection_info is variadic: this shim asks for the client's address only.
static inline const struct sockaddr *CMicroHTTPD_client_address(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return info == NULL ? NULL : info->client_addr;
}
#endif
