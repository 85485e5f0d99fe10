"""What Ferry's interop cases need from aioquic beyond its public API, in one place for the case client
(aioquic_case_client.py) and the server (aioquic_perf_server.py):

- key update counts: aioquic has no counter, but it logs every new 1-RTT key through
  QuicConnection._log_key_updated(key_type, trigger) with trigger "local_update" or "remote_update" (RFC 9001
  §6); wrapping it (before any connection exists, since aioquic binds the method when it sets up its keys)
  counts updates per connection, once per update (each update installs a read and a write key);
- the negotiated cipher suite, from the TLS key schedule, in ferry-bench's --cipher spelling;
- extra chain certificates from a PEM file (a large handshake flight for the amplification-limit case).
"""
from aioquic.quic.connection import QuicConnection
from aioquic.tls import CipherSuite
from cryptography import x509

CIPHER_NAMES = {
    CipherSuite.AES_128_GCM_SHA256: "aes128gcm",
    CipherSuite.AES_256_GCM_SHA384: "aes256gcm",
    CipherSuite.CHACHA20_POLY1305_SHA256: "chacha20",
}

_original_log_key_updated = QuicConnection._log_key_updated


def _log_key_updated(self, key_type, trigger):
    if trigger in ("local_update", "remote_update"):
        counts = self.__dict__.setdefault("_ferry_key_update_halves", {"local_update": 0, "remote_update": 0})
        counts[trigger] += 1
    _original_log_key_updated(self, key_type, trigger)


QuicConnection._log_key_updated = _log_key_updated


def key_updates(quic):
    """(initiated, followed): 1-RTT key updates this side started and those it followed."""
    halves = quic.__dict__.get("_ferry_key_update_halves", {"local_update": 0, "remote_update": 0})
    return halves["local_update"] // 2, halves["remote_update"] // 2


def cipher_name(quic):
    schedule = getattr(quic.tls, "key_schedule", None)
    suite = getattr(schedule, "cipher_suite", None)
    return CIPHER_NAMES.get(suite, "none" if suite is None else str(suite))


def load_chain(path):
    """The certificates of a PEM file, in order; a file without any is an error."""
    with open(path, "rb") as handle:
        certificates = x509.load_pem_x509_certificates(handle.read())
    if not certificates:
        raise SystemExit(f"{path}: no PEM certificate")
    return certificates
