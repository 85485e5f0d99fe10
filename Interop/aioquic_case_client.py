#!/usr/bin/env python3
"""aioquic perf client for the quic-interop-runner cases (Interop/run_cases.py): the anchor's perf client
(../shared/anchors/aioquic-perf/perf_client.py, whose request code it reuses) plus what those cases ask a client
to do, and a report of what really happened.

    --cipher chacha20-only       offer only TLS_CHACHA20_POLY1305_SHA256 (RFC 9001 §5.3)
    --key-update-after-bytes B   start one 1-RTT key update per connection once B bytes were received
                                 (QuicConnection.request_key_update, RFC 9001 §6)
    --migrate-after-bytes B      once B bytes were received, move to a new connection ID (change_connection_id,
                                 RFC 9000 §9.5) and a new local UDP port, actively (RFC 9000 §9.2), as aioquic's
                                 own interop client does for the runner's "connectionmigration" case

Prints the anchor client's JSON line plus cipher, key_updates_initiated, key_updates_followed, rebinds,
local_port_before and local_port_after (summed over connections; the ports of the last one that moved). Exit
status 1 if any request failed or a requested key update or migration did not happen.
"""
import argparse
import asyncio
import json
import os
import ssl
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ANCHORS = os.environ.get("FERRY_ANCHORS", os.path.join(HERE, "..", "..", "shared", "anchors"))
sys.path.insert(0, os.path.join(ANCHORS, "aioquic-perf"))
sys.path.insert(0, HERE)

import aioquic_support  # noqa: E402  (patches aioquic's key update logging before any connection exists)
import perf_client  # noqa: E402
from aioquic.asyncio import connect  # noqa: E402
from aioquic.quic.configuration import QuicConfiguration  # noqa: E402
from aioquic.quic.events import StreamDataReceived  # noqa: E402
from aioquic.tls import CipherSuite  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

OPTIONS = argparse.Namespace()


class CaseClient(perf_client.PerfClient):
    """The anchor's protocol, counting received bytes to trigger the key update and the migration."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.received = 0
        self.key_update_requested = False
        self.migration = None  # the task moving the connection
        self.ports = None  # (before, after)

    def quic_event_received(self, event):
        super().quic_event_received(event)
        if not isinstance(event, StreamDataReceived):
            return
        self.received += len(event.data)
        if (OPTIONS.key_update_after_bytes is not None and not self.key_update_requested
                and self.received >= OPTIONS.key_update_after_bytes):
            self.key_update_requested = True
            self._quic.request_key_update()
            self.transmit()
        if (OPTIONS.migrate_after_bytes is not None and self.migration is None
                and self.received >= OPTIONS.migrate_after_bytes):
            self.migration = asyncio.ensure_future(self.migrate())

    async def migrate(self):
        """A new peer connection ID, then a new socket: the next packets leave from a new port."""
        loop = asyncio.get_running_loop()
        old = self._transport
        before = old.get_extra_info("sockname")
        self._quic.change_connection_id()
        old.close()
        new, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(before[0], 0))
        self.ports = (before[1], new.get_extra_info("sockname")[1])
        print(f"migrated from port {self.ports[0]} to {self.ports[1]} after {self.received} bytes",
              file=sys.stderr, flush=True)
        self.transmit()


async def one_connection(host, port, expect_id, stats, details):
    configuration = QuicConfiguration(is_client=True, alpn_protocols=["perf"], verify_mode=ssl.CERT_NONE,
                                      server_name="localhost", max_data=64 << 20, max_stream_data=16 << 20)
    configuration.load_cert_chain(OPTIONS.cert, OPTIONS.key)
    if OPTIONS.cipher == "chacha20-only":
        configuration.cipher_suites = [CipherSuite.CHACHA20_POLY1305_SHA256]
    async with connect(host, port, configuration=configuration, create_protocol=CaseClient) as client:
        peer = client._quic.tls._peer_certificate.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        if peer.hex() != expect_id:
            raise RuntimeError(f"server endpoint id {peer.hex()} != expected {expect_id}")
        stats["connections"] += 1
        left = [OPTIONS.requests if OPTIONS.requests is not None else OPTIONS.streams]

        async def worker():
            while left[0] > 0:
                left[0] -= 1
                try:
                    got = await client.request(OPTIONS.download, OPTIONS.upload)
                    stats.update(requests=stats["requests"] + 1, bytes_down=stats["bytes_down"] + got,
                                 bytes_up=stats["bytes_up"] + OPTIONS.upload)
                except Exception as error:
                    print(f"request failed: {error}", file=sys.stderr)
                    stats["errors"] += 1

        await asyncio.gather(*(worker() for _ in range(OPTIONS.streams)))
        if client.migration is not None:
            await client.migration
        initiated, followed = aioquic_support.key_updates(client._quic)
        details["ciphers"].add(aioquic_support.cipher_name(client._quic))
        details["key_updates_initiated"] += initiated
        details["key_updates_followed"] += followed
        if client.ports:
            details["rebinds"] += 1
            details["local_port_before"], details["local_port_after"] = client.ports
        if OPTIONS.key_update_after_bytes is not None and initiated == 0:
            print("the requested key update did not happen", file=sys.stderr)
            stats["errors"] += 1
        if OPTIONS.migrate_after_bytes is not None and not client.ports:
            print("the requested migration did not happen", file=sys.stderr)
            stats["errors"] += 1
        client.close()


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", required=True, help="ENDPOINT_ID@HOST:PORT")
    parser.add_argument("--key", required=True)
    parser.add_argument("--cert", required=True, help="PEM certificate")
    for option, default in (("download", 0), ("upload", 0), ("streams", 1), ("requests", None), ("connections", 1)):
        parser.add_argument("--" + option, type=int, default=default)
    parser.add_argument("--cipher", choices=["any", "chacha20-only"], default="any")
    parser.add_argument("--key-update-after-bytes", type=int)
    parser.add_argument("--migrate-after-bytes", type=int)
    parser.parse_args(namespace=OPTIONS)
    identity, _, hostport = OPTIONS.connect.rpartition("@")
    host, _, port = hostport.rpartition(":")
    stats = dict(connections=0, requests=0, bytes_down=0, bytes_up=0, seconds=0.0, download_mib_s=0.0,
                 upload_mib_s=0.0, requests_per_s=0.0, errors=0)
    details = dict(ciphers=set(), key_updates_initiated=0, key_updates_followed=0, rebinds=0,
                   local_port_before=None, local_port_after=None)
    started = time.perf_counter()
    results = await asyncio.gather(*(one_connection(host.strip("[]"), int(port), identity.lower(), stats, details)
                                     for _ in range(OPTIONS.connections)), return_exceptions=True)
    seconds = time.perf_counter() - started
    for result in results:
        if isinstance(result, BaseException):
            print(f"connection failed: {result!r}", file=sys.stderr)
            stats["errors"] += 1
    mebibyte = 1 << 20
    stats.update(seconds=round(seconds, 4), download_mib_s=round(stats["bytes_down"] / mebibyte / seconds, 2),
                 upload_mib_s=round(stats["bytes_up"] / mebibyte / seconds, 2),
                 requests_per_s=round(stats["requests"] / seconds, 1))
    ciphers = details.pop("ciphers")
    stats["cipher"] = ciphers.pop() if len(ciphers) == 1 else ("mixed" if ciphers else "none")
    stats.update(details)
    print(json.dumps(stats))
    return 1 if stats["errors"] else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
