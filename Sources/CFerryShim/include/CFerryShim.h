#ifndef FERRY_CFERRYSHIM_H
#define FERRY_CFERRYSHIM_H
/// Small C wrappers for OpenSSL function-like macros, which do not import into Swift, and the Ed25519 ENGINE
/// registration (Ed25519Engine.c), which uses interfaces OpenSSL 3.0 marks deprecated.
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
/* SSL_CTX_add1_chain_cert is a macro; returns 1 on success. */
int ferry_SSL_CTX_add1_chain_cert(SSL_CTX *ctx, X509 *certificate);

/// `SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL)`: a slot for a per-connection pointer (callbacks find their
/// Swift object through it, because C callbacks cannot capture context).
int ferry_SSL_get_ex_new_index(void);
/// QUIC's TLS profile (RFC 9001 §8.4, §4.6): middlebox compatibility off, no session tickets, no early data,
/// no session cache, server cipher preference. Returns 1 on success.
int ferry_SSL_CTX_configure_quic_options(SSL_CTX *ctx);
/// Ordinary TLS 1.3 over a byte stream (TLSStreamSession): no session tickets, no early data, no session cache
/// (every connection authenticates with certificates, never by resumption), middlebox compatibility left on (the
/// stream may cross TLS-inspecting middleboxes, RFC 8446 Appendix D.4), and read/write buffers released while idle
/// (a relay keeps many quiet connections). Returns 1 on success.
int ferry_SSL_CTX_configure_stream_options(SSL_CTX *ctx);
/// Whether SSL_OP_ENABLE_MIDDLEBOX_COMPAT is set (tests check it is not).
int ferry_SSL_CTX_has_middlebox_compat(SSL_CTX *ctx);
/// Whether SSL_OP_NO_TICKET is set.
int ferry_SSL_CTX_has_no_ticket(SSL_CTX *ctx);

/// Verifies a 64-byte Ed25519 `signature` over `message` under the 32-byte `publicKey` (RFC 8032 §5.1.7);
/// returns 1 when valid.
typedef int (*ferry_ed25519_verify_fn)(const unsigned char *signature, size_t signatureLength,
                                       const unsigned char *message, size_t messageLength,
                                       const unsigned char *publicKey);
/// Registers, once per process, an OpenSSL ENGINE that claims the Ed25519 public-key method (see Ed25519Engine.c).
///
/// Why: OpenSSL 3.0 decodes the key of every parsed certificate through the provider decoder lookup
/// (OSSL_DECODER_CTX_new_for_pkey, ~100 µs each), unless an ENGINE claims the key type; then it takes the built-in
/// legacy decoder (~7 µs). Keys decoded that way are verified with the engine's method: OpenSSL's own Ed25519
/// method, with its DigestVerify replaced by `verify` when that is not NULL. Only the first call has an effect.
/// Returns 1 when the engine is active (0 if this OpenSSL has no ENGINE support).
int ferry_install_ed25519_engine(ferry_ed25519_verify_fn verify);

#endif
