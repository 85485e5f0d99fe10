// OpenSSL 3.0 deprecates the ENGINE and EVP_PKEY_METHOD interfaces used here; see the header for why Ferry
// still uses them (they are the only way around the per-certificate decoder lookup in 3.0).
#define OPENSSL_SUPPRESS_DEPRECATED
#include "CFerryShim.h"

#include <openssl/engine.h>
#include <openssl/evp.h>
#include <pthread.h>

#ifndef OPENSSL_NO_ENGINE

static ferry_ed25519_verify_fn ferry_verify_function = NULL;
static EVP_PKEY_METHOD *ferry_ed25519_method = NULL;
static const int ferry_ed25519_nids[] = { NID_ED25519 };
static pthread_mutex_t ferry_engine_lock = PTHREAD_MUTEX_INITIALIZER;
static int ferry_engine_attempted = 0;
static int ferry_engine_installed = 0;

/// EVP_DigestVerify for a legacy Ed25519 key: the same check as OpenSSL's built-in method (a 64-byte RFC 8032
/// signature over the whole message under the key's 32-byte public key), computed by the Swift-supplied function.
static int ferry_ed25519_digest_verify(EVP_MD_CTX *context, const unsigned char *signature, size_t signatureLength,
                                       const unsigned char *message, size_t messageLength) {
    EVP_PKEY *key = EVP_PKEY_CTX_get0_pkey(EVP_MD_CTX_get_pkey_ctx(context));
    unsigned char publicKey[32];
    size_t publicKeyLength = sizeof(publicKey);
    if (key == NULL || signatureLength != 64) return 0;
    if (EVP_PKEY_get_raw_public_key(key, publicKey, &publicKeyLength) != 1 || publicKeyLength != 32) return 0;
    return ferry_verify_function(signature, signatureLength, message, messageLength, publicKey) == 1 ? 1 : 0;
}

/// The ENGINE's pkey-method table: Ed25519 only.
static int ferry_engine_pkey_methods(ENGINE *engine, EVP_PKEY_METHOD **method, const int **nids, int nid) {
    (void)engine;
    if (method == NULL) {
        *nids = ferry_ed25519_nids;
        return 1;
    }
    if (nid == NID_ED25519 && ferry_ed25519_method != NULL) {
        *method = ferry_ed25519_method;
        return 1;
    }
    *method = NULL;
    return 0;
}

static void ferry_install_engine_locked(void) {
    const EVP_PKEY_METHOD *builtin = EVP_PKEY_meth_find(NID_ED25519);
    if (builtin == NULL) return;
    EVP_PKEY_METHOD *method = EVP_PKEY_meth_new(NID_ED25519, EVP_PKEY_FLAG_SIGCTX_CUSTOM);
    if (method == NULL) return;
    EVP_PKEY_meth_copy(method, builtin);
    if (ferry_verify_function != NULL) EVP_PKEY_meth_set_digestverify(method, ferry_ed25519_digest_verify);
    ferry_ed25519_method = method;

    ENGINE *engine = ENGINE_new();
    if (engine == NULL) return;
    if (ENGINE_set_id(engine, "ferry-ed25519") != 1 || ENGINE_set_name(engine, "Ferry Ed25519 (legacy key path)") != 1
        || ENGINE_set_pkey_meths(engine, ferry_engine_pkey_methods) != 1 || ENGINE_register_pkey_meths(engine) != 1) {
        ENGINE_free(engine);
        return;
    }
    // The registration table does not take a reference of its own: ours keeps the engine for the whole process.
    ENGINE *selected = ENGINE_get_pkey_meth_engine(NID_ED25519);
    if (selected != NULL) {
        ferry_engine_installed = 1;
        ENGINE_finish(selected);
    }
}

int ferry_install_ed25519_engine(ferry_ed25519_verify_fn verify) {
    // Only the first call installs: the method table is process-wide and never changes afterwards.
    pthread_mutex_lock(&ferry_engine_lock);
    if (!ferry_engine_attempted) {
        ferry_engine_attempted = 1;
        ferry_verify_function = verify;
        ferry_install_engine_locked();
    }
    int installed = ferry_engine_installed;
    pthread_mutex_unlock(&ferry_engine_lock);
    return installed;
}

#else

int ferry_install_ed25519_engine(ferry_ed25519_verify_fn verify) {
    (void)verify;
    return 0;
}

#endif
