#!/usr/bin/env python3
"""Handshake flood benchmark (issue 13, "Floods, limits and a soak"; docs/benchmarks.md, "Handshake flood").

Starts a ferry-bench server on 127.0.0.1, measures a legitimate client's handshakes alone, then again while a
flood of client Initials arrives from many source addresses of 127.0.0.0/8 at a rate the server cannot
complete. The flood's Initials are real (aioquic client connections, each with its own Destination Connection
ID, so each one asks for new handshake state) and nobody answers what the server sends back: the shape of a
flood with spoofed sources (RFC 9000 section 21.2). The server switches to Retry by itself above
`AddressValidationConfig.retryAboveHandshakes` open handshakes; the legitimate client follows the Retry.

Reports, as one JSON line and a Markdown table: the legitimate client's success rate and handshakes/s with and
without the flood, the Initials sent during the flood run, and the server's resident memory before and at its
peak. Loopback only; the sources are 127.0.<n>.<m> addresses, which Linux routes to lo without configuration.

Usage: .venv/bin/python Interop/handshake_flood.py [--bin-path DIR] [--rate 4000] [--initials 12000]
    [--count 400] [--concurrency 8] [--sources 200]
A benchmark, not a test: run it on a quiet machine and record the load average it prints.
"""
import argparse
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

INTEROP = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(INTEROP)


def load_average():
    with open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def make_initials(count, server):
    """`count` first Initials, each from a fresh aioquic client connection (its own Destination Connection ID)."""
    configuration = QuicConfiguration(is_client=True, alpn_protocols=["perf"], verify_mode=ssl.CERT_NONE)
    initials = []
    for _ in range(count):
        connection = QuicConnection(configuration=configuration)
        connection.connect(server, now=0.0)
        initials.append(connection.datagrams_to_send(now=0.0)[0][0])
    return initials


def start_server(binary):
    """A ferry-bench server on 127.0.0.1:0; returns (process, 'ID@ip:port', (ip, port))."""
    process = subprocess.Popen([binary, "server", "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith("listening "):
            target = line.split()[1]
            host, port = target.split("@", 1)[1].rsplit(":", 1)
            return process, target, (host, int(port))
    process.kill()
    sys.exit("ferry-bench server did not start")


def legit_handshakes(binary, target, count, concurrency):
    """One ferry-bench handshakes run; returns its JSON report."""
    output = subprocess.run([binary, "handshakes", "--connect", target, "--count", str(count),
                             "--concurrency", str(concurrency)], capture_output=True, text=True, timeout=600)
    for line in reversed(output.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    return {"handshakes": 0, "errors": count, "handshakes_per_s": 0.0, "stderr": output.stderr[-300:]}


class Flood(threading.Thread):
    """Sends the Initials at `rate` per second, round-robin over sockets bound to `sources` loopback addresses."""

    def __init__(self, initials, server, rate, sources):
        super().__init__(daemon=True)
        self.initials, self.server, self.rate = initials, server, rate
        self.sockets = []
        for index in range(sources):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((f"127.0.{1 + index // 250}.{1 + index % 250}", 0))
            self.sockets.append(sock)
        self.stop_event = threading.Event()
        self.sent = 0

    def run(self):
        start = time.monotonic()
        for index, datagram in enumerate(self.initials):
            if self.stop_event.is_set():
                break
            # Pace to `rate`: sleep only when ahead of schedule (a rate limiter, not synchronisation).
            ahead = start + index / self.rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
            self.sockets[index % len(self.sockets)].sendto(datagram, self.server)
            self.sent += 1

    def stop(self):
        self.stop_event.set()
        self.join()
        for sock in self.sockets:
            sock.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-path", default=os.environ.get("FERRY_BIN_PATH", os.path.join(ROOT, ".build/release")))
    parser.add_argument("--rate", type=float, default=4000.0, help="flood Initials per second")
    parser.add_argument("--initials", type=int, default=12000, help="distinct flood Initials to prepare")
    parser.add_argument("--count", type=int, default=400, help="legitimate handshakes per run")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sources", type=int, default=200, help="flood source addresses in 127.0.0.0/8")
    args = parser.parse_args()
    binary = os.path.join(args.bin_path, "ferry-bench")
    if not os.access(binary, os.X_OK):
        sys.exit(f"no ferry-bench at {binary} (swift build -c release --product ferry-bench)")

    print(f"load before: {load_average()}", file=sys.stderr)
    process, target, server = start_server(binary)
    try:
        print(f"preparing {args.initials} Initials...", file=sys.stderr)
        initials = make_initials(args.initials, server)
        rss_start = rss_kib(process.pid)
        alone = legit_handshakes(binary, target, args.count, args.concurrency)
        flood = Flood(initials, server, args.rate, args.sources)
        peak = [rss_kib(process.pid)]
        sampling = threading.Event()

        def sample():
            while not sampling.wait(0.2):
                peak.append(rss_kib(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        flood.start()
        flooded = legit_handshakes(binary, target, args.count, args.concurrency)
        flood.stop()
        sampling.set()
        sampler.join()
        if flood.sent >= len(initials):
            print("warning: the flood ran out of Initials before the legitimate run ended; raise --initials",
                  file=sys.stderr)
    finally:
        process.kill()
        process.wait()
    load_after = load_average()
    print(f"load after: {load_after}", file=sys.stderr)

    def success(report):
        return 100.0 * (args.count - report.get("errors", args.count)) / args.count

    result = {
        "count": args.count, "concurrency": args.concurrency, "flood_rate": args.rate, "flood_sent": flood.sent,
        "sources": args.sources, "alone_success_pct": success(alone), "alone_per_s": alone.get("handshakes_per_s"),
        "flooded_success_pct": success(flooded), "flooded_per_s": flooded.get("handshakes_per_s"),
        "rss_start_kib": rss_start, "rss_peak_kib": max(peak), "load_after": load_after,
    }
    print(json.dumps(result))
    print()
    print("| legitimate client | success | handshakes/s |")
    print("|---|---|---|")
    print(f"| alone | {result['alone_success_pct']:.1f} % | {result['alone_per_s']} |")
    print(f"| during the flood ({flood.sent} Initials at {args.rate:.0f}/s from {args.sources} addresses) | "
          f"{result['flooded_success_pct']:.1f} % | {result['flooded_per_s']} |")
    print()
    print(f"Server RSS: {rss_start} KiB before the flood, {max(peak)} KiB at its peak.")
    return 0 if result["flooded_success_pct"] >= 99.0 else 1


if __name__ == "__main__":
    sys.exit(main())
