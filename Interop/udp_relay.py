#!/usr/bin/env python3
"""A userspace UDP relay that impairs a QUIC connection: seeded loss, reordering, duplication, NAT rebinding.

Clients send to the relay's --listen address; the relay forwards each client's datagrams to --target from an
upstream socket of its own (one per client address, like a NAT mapping) and sends the server's answers back
from the listening socket. Every datagram is dropped with probability --loss, duplicated with --duplicate, and
held back --reorder-delay-ms with probability --reorder (so later datagrams overtake it), independently in each
direction. The decisions come from a random.Random(--seed) stream, one decision sequence per direction.

Rebinding: once --rebind-after-bytes payload bytes (both directions together) have been forwarded, the next
datagram from a client moves every mapping to a fresh upstream socket with a new source port, as a NAT does when
it has forgotten a binding and the client sends again. The server then sees the same connection arrive from a
new address (RFC 9000 §9.3). Datagrams the server still sends to the old port are dropped.

Blackhole: once --blackhole-after-bytes payload bytes have been forwarded, every datagram in both directions is
dropped for --blackhole-seconds, then forwarding resumes (the quic-interop-runner's "blackhole" case).

Per client address the relay counts datagrams each way and notes the first bytes after the first byte of every
short-header packet the client sends (a prefix of the destination connection ID, RFC 9000 §17.3): a client that
migrates actively shows up as a second address whose prefixes differ from the first's (RFC 9000 §9.5).

Amplification (--watch-amplification): the relay finds the first client datagram that proves the client owns its
address (RFC 9000 §8.1): one carrying a Handshake packet (RFC 9000 §17.2.4), or a long-header packet addressed to a
connection ID the server chose (at least 8 bytes, which RFC 9000 §8.1 lets a server take as proof too). It holds that datagram (and any
after it) for --hold-ms, forwarding the server's datagrams meanwhile, reads whatever the server already sent, and
only then records the bytes each way so far and forwards what it held. Everything the server sent before it could
have seen the proof is therefore counted, so `server_bytes <= 3 * client_bytes` checks RFC 9000 §8.1's limit.

Stdout protocol (line-based, for the runner to wait on instead of sleeping):
    relay 127.0.0.1:PORT                 once, when bound and ready
    rebound OLD_PORT->NEW_PORT at BYTES  for each mapping moved
    new client IP:PORT                   for each client address seen
    blackhole from BYTES for SECS        when the blackhole starts; `blackhole over` when it ends
    validated client=B server=B          once the amplification snapshot is taken
    stats {json}                         on SIGTERM/SIGINT or when --duration elapses, then exit 0

Python 3 standard library only. Usage:
    udp_relay.py --target 127.0.0.1:4433 [--listen 127.0.0.1:0] [--seed 1] [--loss 0.02] [--reorder 0.05]
                 [--reorder-delay-ms 10] [--duplicate 0.01] [--rebind-after-bytes 2000000] [--duration SECS]
                 [--blackhole-after-bytes B --blackhole-seconds 2] [--watch-amplification [--hold-ms 100]]
"""
import argparse
import asyncio
import json
import random
import signal
import socket
import sys

BUFFER_BYTES = 4 << 20
MAX_DATAGRAM = 65535
READ_BATCH = 256
DCID_PREFIX = 4  # bytes of a short header's destination connection ID noted per client (every stack uses >= 4)
QUIC_V1 = 0x00000001


def parse_address(text):
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected IP:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def make_socket(host, port=0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, BUFFER_BYTES)
        except OSError:
            pass
    sock.setblocking(False)
    sock.bind((host, port))
    return sock


def read_varint(data, offset):
    """A QUIC variable-length integer (RFC 9000 §16) at offset: (value, next offset), or None if truncated."""
    if offset >= len(data):
        return None
    length = 1 << (data[offset] >> 6)
    if offset + length > len(data):
        return None
    value = data[offset] & 0x3F
    for index in range(1, length):
        value = value << 8 | data[offset + index]
    return value, offset + length


def long_header_connection_ids(data):
    """(destination, source) connection IDs of a datagram's first long-header packet (RFC 9000 §17.2), or None."""
    if len(data) < 7 or not data[0] & 0x80:
        return None
    dcid_length = data[5]
    position = 6 + dcid_length
    if position >= len(data):
        return None
    scid_length = data[position]
    if position + 1 + scid_length > len(data):
        return None
    return data[6:6 + dcid_length], data[position + 1:position + 1 + scid_length]


def carries_handshake_packet(data):
    """Whether a datagram holds a QUIC v1 Handshake packet, walking coalesced long-header packets (RFC 9000
    §12.2, §17.2). Parsing stops at anything it does not understand (that part is not counted as Handshake)."""
    offset = 0
    while offset + 7 <= len(data) and data[offset] & 0x80:
        first = data[offset]
        version = int.from_bytes(data[offset + 1:offset + 5], "big")
        if version != QUIC_V1:
            return False
        kind = (first >> 4) & 0x03  # v1: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry (RFC 9000 §17.2)
        if kind == 2:
            return True
        if kind == 3:
            return False
        position = offset + 5
        dcid_length = data[position]
        position += 1 + dcid_length
        if position >= len(data):
            return False
        scid_length = data[position]
        position += 1 + scid_length
        if kind == 0:
            token = read_varint(data, position)
            if token is None:
                return False
            position = token[1] + token[0]
        length = read_varint(data, position)
        if length is None:
            return False
        offset = length[1] + length[0]
    return False


class Direction:
    """Seeded impairment decisions and counters for one direction."""

    def __init__(self, seed, loss, reorder, duplicate):
        self.random = random.Random(seed)
        self.loss, self.reorder, self.duplicate = loss, reorder, duplicate
        self.counts = {"received": 0, "forwarded": 0, "dropped": 0, "reordered": 0, "duplicated": 0}

    def decide(self):
        """Returns (copies, delayed) for the next datagram; copies 0 means drop."""
        self.counts["received"] += 1
        # Draw all three every time so one knob never shifts the others' sequences.
        lose, hold, double = self.random.random(), self.random.random(), self.random.random()
        if lose < self.loss:
            self.counts["dropped"] += 1
            return 0, False
        copies = 2 if double < self.duplicate else 1
        if copies == 2:
            self.counts["duplicated"] += 1
        delayed = hold < self.reorder
        if delayed:
            self.counts["reordered"] += 1
        return copies, delayed


class Relay:
    def __init__(self, args, loop):
        self.args = args
        self.loop = loop
        self.target = parse_address(args.target)
        listen_host, listen_port = parse_address(args.listen)
        self.listen_host = listen_host
        self.listener = make_socket(listen_host, listen_port)
        self.upstream_host = "::" if ":" in self.target[0] else "0.0.0.0"
        if self.target[0].startswith("127."):
            self.upstream_host = "127.0.0.1"
        self.mappings = {}  # client address -> upstream socket
        self.retired = []  # upstream sockets of forgotten bindings: drained and dropped
        self.to_server = Direction(args.seed * 2 + 1, args.loss, args.reorder, args.duplicate)
        self.to_client = Direction(args.seed * 2 + 2, args.loss, args.reorder, args.duplicate)
        self.bytes_forwarded = 0
        self.rebinds = 0
        self.forwarded_after_rebind = {"to_server": 0, "to_client": 0}
        self.dropped_at_old_port = 0
        self.send_errors = 0
        self.clients = {}  # client address -> {"to_server", "to_client", "dcid_prefixes"}
        self.blackhole = {"started_at_bytes": None, "active": False, "dropped": {"to_server": 0, "to_client": 0},
                          "forwarded_after": {"to_server": 0, "to_client": 0}}
        self.amplification = None  # {"client_bytes", "server_bytes"} once the address is validated
        self.held = None  # client datagrams held while the amplification snapshot is taken
        self.bytes_by_direction = {"to_server": 0, "to_client": 0}
        self.server_long_header_bytes = 0
        self.server_ids = set()  # source connection IDs of the server's long-header packets
        loop.add_reader(self.listener.fileno(), self.on_client_readable)

    @property
    def address(self):
        host, port = self.listener.getsockname()[:2]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    # -- receiving ------------------------------------------------------------------------------------------

    def on_client_readable(self):
        for _ in range(READ_BATCH):
            try:
                data, source = self.listener.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.send_errors += 1
                return
            if self.args.rebind_after_bytes and self.rebinds == 0 and self.bytes_forwarded >= self.args.rebind_after_bytes:
                # A NAT rebinds when the client next sends: this datagram already leaves from the new port, so
                # the server learns the new address at once (a rebinding while the client is silent would strand
                # any connection, whatever the stack).
                self.rebind()
            upstream = self.mappings.get(source)
            if upstream is None:
                upstream = self.open_mapping(source)
            self.note_client_datagram(source, data)
            if self.args.watch_amplification and self.amplification is None:
                if self.held is None and self.proves_address(data):
                    self.held = []
                    self.loop.call_later(self.args.hold_ms / 1000.0, self.release_held)
                if self.held is not None:
                    self.held.append((upstream, data))
                    continue
            self.forward(self.to_server, upstream, data, self.target, "to_server")

    def proves_address(self, data):
        """A Handshake packet, or a packet to a connection ID the server chose (RFC 9000 §8.1)."""
        ids = long_header_connection_ids(data)
        return carries_handshake_packet(data) or (ids is not None and len(ids[0]) >= 8 and ids[0] in self.server_ids)

    def note_client_datagram(self, source, data):
        client = self.clients.get(source)
        if client is None:
            client = self.clients[source] = {"to_server": 0, "to_client": 0, "dcid_prefixes": []}
            print(f"new client {source[0]}:{source[1]}", flush=True)
        if data and not data[0] & 0x80 and len(data) > DCID_PREFIX:
            prefix = data[1:1 + DCID_PREFIX].hex()
            if prefix not in client["dcid_prefixes"] and len(client["dcid_prefixes"]) < 16:
                client["dcid_prefixes"].append(prefix)

    def release_held(self):
        """Counts every server datagram already sent, records the amplification figures, then lets the client's
        proof of address ownership (and what queued behind it) through."""
        for upstream, client in list(self.upstream_clients.items()):
            self.on_upstream_readable(upstream, client)
        self.amplification = {"client_bytes": self.bytes_by_direction["to_server"],
                              "server_bytes": self.bytes_by_direction["to_client"],
                              "held_datagrams": len(self.held)}
        print(f"validated client={self.amplification['client_bytes']} server={self.amplification['server_bytes']}",
              flush=True)
        held, self.held = self.held, None
        for upstream, data in held:
            self.forward(self.to_server, upstream, data, self.target, "to_server")

    def on_upstream_readable(self, upstream, client):
        for _ in range(READ_BATCH):
            try:
                data, _source = upstream.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.send_errors += 1
                return
            if self.mappings.get(client) is not upstream:
                self.dropped_at_old_port += 1  # the NAT forgot this binding
                continue
            if data and data[0] & 0x80:
                self.server_long_header_bytes += len(data)
                ids = long_header_connection_ids(data)
                if ids is not None and ids[1]:
                    self.server_ids.add(ids[1])
            self.forward(self.to_client, self.listener, data, client, "to_client")

    @property
    def upstream_clients(self):
        return {upstream: client for client, upstream in self.mappings.items()}

    def open_mapping(self, client):
        upstream = make_socket(self.upstream_host)
        self.mappings[client] = upstream
        self.loop.add_reader(upstream.fileno(), self.on_upstream_readable, upstream, client)
        return upstream

    # -- forwarding -----------------------------------------------------------------------------------------

    def forward(self, direction, sock, data, destination, name):
        after = self.args.blackhole_after_bytes
        if after and self.blackhole["started_at_bytes"] is None and self.bytes_forwarded >= after:
            self.blackhole.update(started_at_bytes=self.bytes_forwarded, active=True)
            print(f"blackhole from {self.bytes_forwarded} for {self.args.blackhole_seconds}", flush=True)
            self.loop.call_later(self.args.blackhole_seconds, self.end_blackhole)
        if self.blackhole["active"]:
            direction.counts["received"] += 1
            self.blackhole["dropped"][name] += 1
            return
        copies, delayed = direction.decide()
        for _ in range(copies):
            if delayed:
                self.loop.call_later(self.args.reorder_delay_ms / 1000.0, self.send, direction, sock, data,
                                     destination, name)
            else:
                self.send(direction, sock, data, destination, name)

    def send(self, direction, sock, data, destination, name):
        try:
            sock.sendto(data, destination)
        except (BlockingIOError, InterruptedError):
            direction.counts["dropped"] += 1  # a full socket buffer is loss too
            return
        except OSError:
            self.send_errors += 1
            return
        direction.counts["forwarded"] += 1
        if self.rebinds:
            self.forwarded_after_rebind[name] += 1
        if self.blackhole["started_at_bytes"] is not None:
            self.blackhole["forwarded_after"][name] += 1
        self.bytes_forwarded += len(data)
        self.bytes_by_direction[name] += len(data)
        key = destination if name == "to_client" else self.client_of(sock)
        if key in self.clients:
            self.clients[key][name] += 1

    def client_of(self, upstream):
        for client, mapped in self.mappings.items():
            if mapped is upstream:
                return client
        return None

    def end_blackhole(self):
        self.blackhole["active"] = False
        print("blackhole over", flush=True)

    def rebind(self):
        """Moves every client to a fresh upstream port (a NAT rebinding seen by the server)."""
        self.rebinds += 1
        for client, old in list(self.mappings.items()):
            new = make_socket(self.upstream_host)
            self.mappings[client] = new
            self.loop.add_reader(new.fileno(), self.on_upstream_readable, new, client)
            self.retired.append(old)  # keep reading (and dropping) so the kernel sends no ICMP errors
            print(f"rebound {old.getsockname()[1]}->{new.getsockname()[1]} at {self.bytes_forwarded}", flush=True)

    def stats(self):
        return {
            "to_server": self.to_server.counts, "to_client": self.to_client.counts, "rebinds": self.rebinds,
            "forwarded_after_rebind": self.forwarded_after_rebind, "dropped_at_old_port": self.dropped_at_old_port,
            "bytes_forwarded": self.bytes_forwarded, "clients": len(self.mappings), "socket_errors": self.send_errors,
            "per_client": [dict(address=f"{address[0]}:{address[1]}", **counts)
                           for address, counts in self.clients.items()],
            "blackhole": self.blackhole, "amplification": self.amplification,
            "server_long_header_bytes": self.server_long_header_bytes,
        }


async def main_async(args):
    loop = asyncio.get_running_loop()
    relay = Relay(args, loop)
    done = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)
    if args.duration:
        loop.call_later(args.duration, done.set)
    print(f"relay {relay.address}", flush=True)
    await done.wait()
    print("stats " + json.dumps(relay.stats(), sort_keys=True), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True, type=str, help="server IP:PORT")
    parser.add_argument("--listen", default="127.0.0.1:0", help="IP:PORT for clients (port 0 picks one)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--loss", type=float, default=0.0, help="drop probability per datagram and direction")
    parser.add_argument("--reorder", type=float, default=0.0, help="probability a datagram is held back")
    parser.add_argument("--reorder-delay-ms", type=float, default=10.0, help="how long a held datagram waits")
    parser.add_argument("--duplicate", type=float, default=0.0, help="probability a datagram is sent twice")
    parser.add_argument("--rebind-after-bytes", type=int, default=0, help="move to new upstream ports once (0: never)")
    parser.add_argument("--duration", type=float, default=0.0, help="exit after SECS (0: run until signalled)")
    parser.add_argument("--blackhole-after-bytes", type=int, default=0,
                        help="drop everything, both ways, once this many bytes were forwarded (0: never)")
    parser.add_argument("--blackhole-seconds", type=float, default=2.0, help="how long the blackhole lasts")
    parser.add_argument("--watch-amplification", action="store_true",
                        help="record the bytes each way before the client's first Handshake packet")
    parser.add_argument("--hold-ms", type=float, default=100.0,
                        help="how long that packet is held while the server's earlier datagrams are counted")
    args = parser.parse_args()
    parse_address(args.target)
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
