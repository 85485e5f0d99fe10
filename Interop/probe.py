"""An aioquic client protocol that records how a connection attempt ended: served or closed (with code)."""
import asyncio

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.quic.events import ConnectionTerminated, StreamDataReceived


class Probe(QuicConnectionProtocol):
    """Resolves `outcome` once: ("closed", code, reason) on ConnectionTerminated, ("served", None, "") on a
    finished stream. Shared by no_cert_client.py and allowlist_client.py."""

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
