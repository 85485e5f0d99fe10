#!/usr/bin/env python3
"""aioquic server for the "perf" protocol (ALPN "perf", plus "echo/1"): Ferry's aioquic interop peer.

Protocol (../shared/perf-protocol.md): per bidirectional stream the client sends a u64 big-endian N, then upload
bytes, then FIN; the server checks every upload byte (payload byte k is k % 251), then sends N pattern bytes and
FIN. A mismatch resets the stream with code 1 and is counted. With "echo/1" every stream is echoed back.

Identity: an Ed25519 PKCS#8 key file (ferry keygen, openssl genpkey -algorithm ed25519); the self-signed
certificate is made in memory, CN = the endpoint id. TLS is mutual: the server REQUIRES a client certificate
with an Ed25519 key (any self-signed one), and the CertificateVerify signature is checked by aioquic.

aioquic has no public switch for client certificates: its tls.Context has a private `_request_client_certificate`
flag, and a server that receives an empty Certificate message just carries on. This script turns the flag on for
every server connection and refuses an empty or non-Ed25519 client certificate with a TLS alert
(certificate_required, 116 / bad_certificate, 42).

Prints exactly `listening ID@ip:port` on stdout once bound. Runs until SIGINT/SIGTERM, then prints a summary
line on stderr.

Options for the interop cases (Interop/run_cases.py): --chain PEM sends extra certificates after its own (a large
handshake flight); --key-update-after-bytes B starts one 1-RTT key update (RFC 9001 §6) per connection once B
download bytes were queued; --details prints, after each answered request,
`connection cipher=.. key_updates_initiated=.. key_updates_followed=.. remote=IP:PORT requests=N` on stdout.
"""
import argparse
import asyncio
import datetime
import signal
import struct
import sys

from aioquic import tls
from aioquic.asyncio import serve
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, HandshakeCompleted, StreamDataReceived, StreamReset
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

import aioquic_support

PERIOD = 251
CHUNK = PERIOD * 256  # a multiple of the period, so every chunk starts at pattern phase 0
PATTERN = bytes(i % PERIOD for i in range(CHUNK + PERIOD))
SEND_BUFFER_LIMIT = 4 << 20  # unacknowledged bytes queued per stream before the sender waits for ACKs
VERBOSE = False
OPTIONS = argparse.Namespace(key_update_after_bytes=None, details=False)
STATS = {"connections": 0, "requests": 0, "bytes_down": 0, "bytes_up": 0, "errors": 0, "refused": 0}


def log(message):
    if VERBOSE:
        print(message, file=sys.stderr, flush=True)


# ---- mutual TLS: make aioquic's server request, and require, an Ed25519 client certificate -------------------

class AlertCertificateRequired(tls.Alert):
    description = tls.AlertDescription.certificate_required


_original_initialize = QuicConnection._initialize
_original_handle_certificate = tls.Context._server_handle_certificate


def _initialize(self, peer_cid):
    _original_initialize(self, peer_cid)
    if not self._is_client:
        self.tls._request_client_certificate = True


def _server_handle_certificate(self, input_buf, output_buf):
    start = input_buf.tell()
    certificate = tls.pull_certificate(input_buf)
    input_buf.seek(start)
    if not certificate.certificates:
        STATS["refused"] += 1
        log("refused a client without a certificate")
        raise AlertCertificateRequired("client certificate required")
    try:
        key = x509.load_der_x509_certificate(certificate.certificates[0][0]).public_key()
    except ValueError as error:
        STATS["refused"] += 1
        raise tls.AlertBadCertificate(f"unparsable client certificate: {error}")
    if not isinstance(key, ed25519.Ed25519PublicKey):
        STATS["refused"] += 1
        log(f"refused a client certificate with a {type(key).__name__}")
        raise tls.AlertBadCertificate("client certificate is not Ed25519")
    _original_handle_certificate(self, input_buf, output_buf)


QuicConnection._initialize = _initialize
tls.Context._server_handle_certificate = _server_handle_certificate


# ---- identity ----------------------------------------------------------------------------------------------

def raw_public_key_hex(public_key):
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()


def load_identity(path):
    with open(path, "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise SystemExit(f"key file {path} holds a {type(key).__name__}; an Ed25519 key is needed")
    endpoint_id = raw_public_key_hex(key.public_key())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, endpoint_id)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, None)
    )
    return key, certificate, endpoint_id


# ---- the perf and echo protocols ---------------------------------------------------------------------------

class Request:
    """One perf request: the 8-byte header, then the upload checked byte by byte."""

    def __init__(self):
        self.header = b""
        self.download = None
        self.uploaded = 0
        self.mismatches = 0

    def feed(self, data):
        if self.download is None:
            need = 8 - len(self.header)
            self.header += data[:need]
            data = data[need:]
            if len(self.header) == 8:
                self.download = struct.unpack(">Q", self.header)[0]
        for start in range(0, len(data), CHUNK):
            part = data[start:start + CHUNK]
            phase = self.uploaded % PERIOD
            expected = PATTERN[phase:phase + len(part)]
            if part != expected:
                self.mismatches += sum(a != b for a, b in zip(part, expected))
            self.uploaded += len(part)


class PerfServerProtocol(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests = {}
        self.finished_streams = set()  # aioquic re-reports end_stream when a retransmitted FIN arrives late
        self.alpn = None
        self.acked = asyncio.Event()
        self.closed = False
        self.tasks = set()
        self.download_queued = 0
        self.key_update_requested = False
        self.answered = 0

    def datagram_received(self, data, addr):
        super().datagram_received(data, addr)
        self.acked.set()  # ACKs may have freed send buffer space

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            self.alpn = event.alpn_protocol
            STATS["connections"] += 1
            peer = self._quic.tls._peer_certificate
            log(f"connection from {raw_public_key_hex(peer.public_key()) if peer else '?'} alpn={self.alpn}")
        elif isinstance(event, StreamDataReceived):
            if self.alpn == "echo/1":
                self._quic.send_stream_data(event.stream_id, event.data, end_stream=event.end_stream)
                self.transmit()
                return
            if event.stream_id in self.finished_streams:
                return
            request = self.requests.setdefault(event.stream_id, Request())
            request.feed(event.data)
            if event.end_stream:
                del self.requests[event.stream_id]
                self.finished_streams.add(event.stream_id)
                self.finish_request(event.stream_id, request)
        elif isinstance(event, StreamReset):
            self.requests.pop(event.stream_id, None)
        elif isinstance(event, ConnectionTerminated):
            self.closed = True
            self.acked.set()
            for task in self.tasks:
                task.cancel()

    def finish_request(self, stream_id, request):
        STATS["bytes_up"] += request.uploaded
        if request.download is None or request.mismatches:
            STATS["errors"] += 1
            print(f"stream {stream_id}: bad request ({'no header' if request.download is None else str(request.mismatches) + ' mismatched upload bytes'})",
                  file=sys.stderr, flush=True)
            self._quic.reset_stream(stream_id, 1)
            self.transmit()
            return
        task = asyncio.ensure_future(self.send_download(stream_id, request.download))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def send_download(self, stream_id, total):
        sent = 0
        stream = self._quic._streams.get(stream_id)
        while sent < total and not self.closed:
            while stream is not None and len(stream.sender._buffer) > SEND_BUFFER_LIMIT and not self.closed:
                self.acked.clear()
                await self.acked.wait()
            size = min(CHUNK, total - sent)
            self._quic.send_stream_data(stream_id, PATTERN[:size], end_stream=sent + size == total)
            sent += size
            self.download_queued += size
            if (OPTIONS.key_update_after_bytes is not None and not self.key_update_requested
                    and self.download_queued >= OPTIONS.key_update_after_bytes):
                self.key_update_requested = True
                self._quic.request_key_update()
                log(f"requested a key update after {self.download_queued} bytes")
            self.transmit()
            await asyncio.sleep(0)
        if total == 0 and not self.closed:
            self._quic.send_stream_data(stream_id, b"", end_stream=True)
            self.transmit()
        if sent == total:
            STATS["requests"] += 1
            STATS["bytes_down"] += total
            self.answered += 1
            if OPTIONS.details:
                initiated, followed = aioquic_support.key_updates(self._quic)
                peer = self._quic._network_paths[0].addr if self._quic._network_paths else ("?", 0)
                print(f"connection cipher={aioquic_support.cipher_name(self._quic)} "
                      f"key_updates_initiated={initiated} key_updates_followed={followed} "
                      f"remote={peer[0]}:{peer[1]} requests={self.answered}", flush=True)


async def main():
    global VERBOSE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="IP:PORT (port 0 picks one)")
    parser.add_argument("--key", required=True, help="PKCS#8 Ed25519 private key (PEM)")
    parser.add_argument("--cert", help="accepted for compatibility with quinn-perf and ignored")
    parser.add_argument("--stream-window", type=int, default=16 << 20)
    parser.add_argument("--conn-window", type=int, default=64 << 20)
    parser.add_argument("--max-streams", type=int, default=1024)
    parser.add_argument("--chain", help="PEM file of certificates sent after the server's own")
    parser.add_argument("--key-update-after-bytes", type=int, help="start one key update per connection after "
                        "queuing this many download bytes")
    parser.add_argument("--details", action="store_true", help="print a `connection` line per answered request")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    VERBOSE = args.verbose
    OPTIONS.key_update_after_bytes = args.key_update_after_bytes
    OPTIONS.details = args.details

    key, certificate, endpoint_id = load_identity(args.key)
    configuration = QuicConfiguration(
        is_client=False,
        alpn_protocols=["perf", "echo/1"],
        max_data=args.conn_window,
        max_stream_data=args.stream_window,
        idle_timeout=30.0,
    )
    configuration.certificate = certificate
    configuration.private_key = key
    if args.chain:
        configuration.certificate_chain = aioquic_support.load_chain(args.chain)
    if hasattr(configuration, "max_streams_bidi"):
        configuration.max_streams_bidi = args.max_streams

    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]")
    server = await serve(host, int(port), configuration=configuration, create_protocol=PerfServerProtocol)
    bound = server._transport.get_extra_info("sockname")
    shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
    print(f"listening {endpoint_id}@{shown}:{bound[1]}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    server.close()
    print("aioquic_perf_server: " + " ".join(f"{k}={v}" for k, v in STATS.items()), file=sys.stderr, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
