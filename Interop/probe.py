"""An aioquic client that makes one perf request and records how the attempt ended: served or closed (with
code). Shared by no_cert_client.py and allowlist_client.py."""
import asyncio
import ssl
import struct

from aioquic.asyncio import connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, StreamDataReceived


class Probe(QuicConnectionProtocol):
    """Resolves `outcome` once: ("closed", code, reason) on ConnectionTerminated, ("served", None, "") on a
    finished stream."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.outcome = asyncio.get_running_loop().create_future()

    def quic_event_received(self, event):
        if self.outcome.done():
            return
        if isinstance(event, ConnectionTerminated):
            self.outcome.set_result(("closed", event.error_code, event.reason_phrase))
        elif isinstance(event, StreamDataReceived) and event.end_stream:
            self.outcome.set_result(("served", None, ""))


def client_configuration():
    """ALPN "perf", server certificate not verified (the perf servers' certificates are self-signed)."""
    return QuicConfiguration(is_client=True, alpn_protocols=["perf"], verify_mode=ssl.CERT_NONE,
                             server_name="localhost")


async def request_once(target, configuration, timeout):
    """Connects to `target` (ID@HOST:PORT; the id is not checked), sends one perf request (8-byte size 1, FIN)
    and returns the Probe's outcome (kind, code, reason).

    Raises ConnectionError when the handshake fails, asyncio.TimeoutError when nothing happens within `timeout`.
    """
    host, _, port = target.rpartition("@")[2].rpartition(":")
    async with connect(host.strip("[]"), int(port), configuration=configuration, create_protocol=Probe,
                       wait_connected=True) as client:
        stream_id = client._quic.get_next_available_stream_id()
        client._quic.send_stream_data(stream_id, struct.pack(">Q", 1), end_stream=True)
        client.transmit()
        return await asyncio.wait_for(client.outcome, timeout)
