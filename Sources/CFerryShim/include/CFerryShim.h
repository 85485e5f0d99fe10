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

#endif
