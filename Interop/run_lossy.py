#!/usr/bin/env python3
"""Cross-process transfers through a lossy, reordering, rebinding UDP relay (Interop/udp_relay.py).

Each case starts a perf server (waiting for its `listening ID@ip:port` line), starts the relay in front of it
(waiting for its `relay IP:PORT` line), runs one perf client against the relay with a bounded timeout, then
stops the relay (which prints its counters) and the server. A case passes when the client's JSON shows exact
byte and request counts with no errors (both perf peers check every payload byte), the server exits cleanly
without counted errors, and the relay proves it did its job: datagrams lost and held back in both
directions, one NAT rebinding, and traffic in both directions after it.

Cases: ferry-bench <-> ferry-bench, aioquic client -> ferry-bench server (Ferry sends the download), and
ferry-bench client -> aioquic server (aioquic sends the download). One line per case, then `N passed, N failed`
alone on the last line; exit status 1 if any case failed.

Usage: .venv/bin/python Interop/run_lossy.py [--bin-path DIR] [--only SUBSTRING] [--timeout SECS] [--seed N]
                                             [--loss P] [--reorder P] [--keep]
Needs Scripts/setup (the .venv with aioquic) and a release ferry-bench (Scripts/test builds it).
"""
import sys

import harness
from harness import MIB, Failure, RelayProcess


def check_relay(stats, stderr_path):
    """The impairments really happened: otherwise a pass proves nothing."""
    if stats is None:
        raise Failure(f"the relay printed no stats; stderr: {harness.tail(stderr_path)}")
    problems = []
    for name in ("to_server", "to_client"):
        counts = stats[name]
        if counts["dropped"] == 0:
            problems.append(f"nothing dropped {name}")
        if counts["reordered"] == 0:
            problems.append(f"nothing reordered {name}")
    if stats["rebinds"] != 1:
        problems.append(f"{stats['rebinds']} rebindings (expected 1 mid-transfer)")
    elif min(stats["forwarded_after_rebind"].values()) < 10:
        problems.append(f"too little traffic after the rebinding: {stats['forwarded_after_rebind']}")
    if problems:
        raise Failure("relay did not impair the transfer as intended (" + "; ".join(problems) + f"): {stats}")


def lossy_case(client, server, download, upload, streams, requests):
    """A perf transfer through the relay; the rebinding happens after about 40 % of the payload bytes."""
    def run(peers, timeout, relay_options):
        peers.client_argv(client, "x@127.0.0.1:1", ["client"])  # fail or skip before starting anything
        total = (download + upload) * requests
        srv = harness.Server(f"{server}-server", peers.server_argv(server), peers.workdir, startup_timeout=30)
        relay = None
        relay_stats = None
        try:
            server_id, _, server_address = srv.target.partition("@")
            relay = RelayProcess(server_address, peers.workdir,
                                 relay_options + ["--rebind-after-bytes", str(max(total * 2 // 5, 1))])
            options = harness.perf_options(client, download, upload, streams, requests, connections=1)
            try:
                report = harness.run_client(f"{client}-client",
                                            peers.client_argv(client, f"{server_id}@{relay.address}", options),
                                            peers.workdir, timeout)
            except Failure as failure:
                relay_stats = relay.stop()
                raise Failure(f"{failure}; relay events {relay.events()}; relay stats {relay_stats}; "
                              f"server stderr: {srv.stderr_tail()}") from None
            finally:
                if relay_stats is None:
                    relay_stats = relay.stop()
        finally:
            code = srv.stop()
        throughput = harness.check_transfer(report, srv, code, download, upload, requests, connections=1)
        check_relay(relay_stats, relay.stderr_path)
        lost = relay_stats["to_server"]["dropped"] + relay_stats["to_client"]["dropped"]
        held = relay_stats["to_server"]["reordered"] + relay_stats["to_client"]["reordered"]
        return f"{throughput}; relay lost {lost}, reordered {held}, rebound once"

    label = (f"{harness.NAMES[client]} client -> {harness.NAMES[server]} server through lossy relay: "
             f"{requests} requests ({harness.human(download)} down, {harness.human(upload)} up, {streams} streams)")
    return label, run


def cases():
    return [
        lossy_case("ferry", "ferry", download=4 * MIB, upload=1 * MIB, streams=2, requests=2),
        lossy_case("aioquic", "ferry", download=4 * MIB, upload=256 * 1024, streams=1, requests=2),
        lossy_case("ferry", "aioquic", download=4 * MIB, upload=256 * 1024, streams=1, requests=2),
    ]


def main():
    def add_options(parser):
        parser.add_argument("--seed", type=int, default=7, help="relay RNG seed")
        parser.add_argument("--loss", type=float, default=0.02, help="relay loss per datagram and direction")
        parser.add_argument("--reorder", type=float, default=0.03, help="relay reordering probability")
        parser.add_argument("--reorder-delay-ms", type=float, default=8.0)

    args = harness.parse_arguments(__doc__.splitlines()[0], add_options)
    relay_options = ["--seed", str(args.seed), "--loss", str(args.loss), "--reorder", str(args.reorder),
                     "--reorder-delay-ms", str(args.reorder_delay_ms)]
    return harness.run_cases(cases(), args, "ferry-lossy-", relay_options)


if __name__ == "__main__":
    sys.exit(main())
