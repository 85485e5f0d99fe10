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
int ferry_SSL_CTX_add1_chain_cert(SSL_CTX *ctx, X509 *certificate) { return SSL_CTX_add1_chain_cert(ctx, certificate) == 1; }

int ferry_SSL_get_ex_new_index(void) { return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

int ferry_SSL_CTX_configure_quic_options(SSL_CTX *ctx) {
    SSL_CTX_clear_options(ctx, SSL_OP_ENABLE_MIDDLEBOX_COMPAT);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_MIDDLEBOX_COMPAT) return 0;
    if (SSL_CTX_set_num_tickets(ctx, 0) != 1) return 0;
    if (SSL_CTX_set_max_early_data(ctx, 0) != 1) return 0;
    if (SSL_CTX_set_recv_max_early_data(ctx, 0) != 1) return 0;
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    return 1;
}

int ferry_SSL_CTX_configure_stream_options(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (SSL_CTX_set_num_tickets(ctx, 0) != 1) return 0;
    if (SSL_CTX_set_max_early_data(ctx, 0) != 1) return 0;
    if (SSL_CTX_set_recv_max_early_data(ctx, 0) != 1) return 0;
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return 1;
}

int ferry_SSL_CTX_has_middlebox_compat(SSL_CTX *ctx) {
    return (SSL_CTX_get_options(ctx) & SSL_OP_ENABLE_MIDDLEBOX_COMPAT) != 0;
}

int ferry_SSL_CTX_has_no_ticket(SSL_CTX *ctx) { return (SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET) != 0; }
