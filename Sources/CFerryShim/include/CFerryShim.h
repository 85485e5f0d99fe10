#ifndef FERRY_CFERRYSHIM_H
#define FERRY_CFERRYSHIM_H
/// Small C wrappers for OpenSSL function-like macros, which do not import into Swift.
#include <openssl/ssl.h>

int ferry_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version);
int ferry_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version);
long ferry_SSL_CTX_set_options(SSL_CTX *ctx, long options);
long ferry_SSL_CTX_clear_options(SSL_CTX *ctx, long options);
long ferry_SSL_CTX_set_mode(SSL_CTX *ctx, long mode);
int ferry_SSL_set_tlsext_host_name(SSL *ssl, const char *name);
int ferry_SSL_CTX_set_session_cache_mode_off(SSL_CTX *ctx);
long ferry_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list);
long ferry_SSL_CTX_set1_sigalgs_list(SSL_CTX *ctx, const char *list);

/// `SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)`: a slot for a per-connection pointer (callbacks find their
/// Swift object through it, because C callbacks cannot capture context).
int ferry_SSL_get_ex_new_index(void);
/// QUIC's TLS profile (RFC 9001 §8.4, §4.6): middlebox compatibility off, no session tickets, no early data,
/// no session cache, server cipher preference. Returns 1 on success.
int ferry_SSL_CTX_configure_quic_options(SSL_CTX *ctx);
/// Whether SSL_OP_ENABLE_MIDDLEBOX_COMPAT is set (tests check it is not).
int ferry_SSL_CTX_has_middlebox_compat(SSL_CTX *ctx);
/// Whether SSL_OP_NO_TICKET is set.
int ferry_SSL_CTX_has_no_ticket(SSL_CTX *ctx);

#endif
