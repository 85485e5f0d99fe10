#include "CFerryShim.h"

int ferry_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
int ferry_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}
long ferry_SSL_CTX_set_options(SSL_CTX *ctx, long options) { return (long)SSL_CTX_set_options(ctx, options); }
long ferry_SSL_CTX_clear_options(SSL_CTX *ctx, long options) { return (long)SSL_CTX_clear_options(ctx, options); }
long ferry_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return (long)SSL_CTX_set_mode(ctx, mode); }
int ferry_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
int ferry_SSL_CTX_set_session_cache_mode_off(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}
long ferry_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) { return SSL_CTX_set1_groups_list(ctx, list); }
long ferry_SSL_CTX_set1_sigalgs_list(SSL_CTX *ctx, const char *list) { return SSL_CTX_set1_sigalgs_list(ctx, list); }
