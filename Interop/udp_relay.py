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

Stdout protocol (line-based, for the runner to wait on instead of sleeping):
    relay 127.0.0.1:PORT                 once, when bound and ready
    rebound OLD_PORT->NEW_PORT at BYTES  for each mapping moved
    stats {json}                         on SIGTERM/SIGINT or when --duration elapses, then exit 0

Python 3 standard library only. Usage:
    udp_relay.py --target 127.0.0.1:4433 [--listen 127.0.0.1:0] [--seed 1] [--loss 0.02] [--reorder 0.05]
                 [--reorder-delay-ms 10] [--duplicate 0.01] [--rebind-after-bytes 2000000] [--duration SECS]
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
            self.forward(self.to_client, self.listener, data, client, "to_client")

    def open_mapping(self, client):
        upstream = make_socket(self.upstream_host)
        self.mappings[client] = upstream
        self.loop.add_reader(upstream.fileno(), self.on_upstream_readable, upstream, client)
        return upstream

    # -- forwarding -----------------------------------------------------------------------------------------

    def forward(self, direction, sock, data, destination, name):
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
        self.bytes_forwarded += len(data)

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
    args = parser.parse_args()
    parse_address(args.target)
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
