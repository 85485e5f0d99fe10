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
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_interop as interop  # noqa: E402  (shared process, identity and peer helpers)

RELAY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "udp_relay.py")
MIB = interop.MIB
Failure = interop.Failure
Skip = interop.Skip


class RelayProcess:
    """udp_relay.py in its own process group; `address` once it printed `relay IP:PORT`."""

    def __init__(self, target, workdir, options, startup_timeout=20.0):
        self.stderr_path = os.path.join(workdir, "relay.stderr")
        self.stderr = open(self.stderr_path, "wb")
        argv = [sys.executable, RELAY, "--target", target] + options
        self.process = interop.PROCESSES.spawn(argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                               stdin=subprocess.DEVNULL)
        self.lines = []
        self.ready = threading.Event()
        self.finished = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(startup_timeout) or not self.lines or not self.lines[0].startswith("relay "):
            self.stop()
            raise Failure(f"relay printed no 'relay IP:PORT' line within {startup_timeout:.0f}s; "
                          f"stdout {self.lines}; stderr: {interop.tail(self.stderr_path)}")
        self.address = self.lines[0].split()[1]

    def _read(self):
        for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())
            self.ready.set()
        self.ready.set()
        self.finished.set()

    def stop(self):
        """SIGTERM (the relay then prints its stats and exits), then the counters, or None."""
        interop.PROCESSES.stop(self.process)
        self.finished.wait(10)
        self.stderr.close()
        for line in reversed(self.lines):
            if line.startswith("stats "):
                return json.loads(line[len("stats "):])
        return None


def check_relay(stats, stderr_path):
    """The impairments really happened: otherwise a pass proves nothing."""
    if stats is None:
        raise Failure(f"the relay printed no stats; stderr: {interop.tail(stderr_path)}")
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
        srv = interop.Server(f"{server}-server", peers.server_argv(server), peers.workdir, startup_timeout=30)
        relay = None
        relay_stats = None
        try:
            server_id, _, server_address = srv.target.partition("@")
            relay = RelayProcess(server_address, peers.workdir,
                                 relay_options + ["--rebind-after-bytes", str(max(total * 2 // 5, 1))])
            options = ["--download", str(download), "--upload", str(upload), "--streams", str(streams),
                       "--requests", str(requests), "--connections", "1"]
            if client != "aioquic":
                options = ["client"] + options
            try:
                report = interop.run_client(f"{client}-client",
                                            peers.client_argv(client, f"{server_id}@{relay.address}", options),
                                            peers.workdir, timeout)
            except Failure as failure:
                relay_stats = relay.stop()
                events = [line for line in relay.lines[1:] if not line.startswith("stats ")]
                raise Failure(f"{failure}; relay events {events}; relay stats {relay_stats}; "
                              f"server stderr: {srv.stderr_tail()}") from None
            finally:
                if relay_stats is None:
                    relay_stats = relay.stop()
        finally:
            code = srv.stop()
        expect = {"errors": 0, "connections": 1, "requests": requests,
                  "bytes_down": download * requests, "bytes_up": upload * requests}
        wrong = {key: report.get(key) for key, value in expect.items() if report.get(key) != value}
        if wrong:
            raise Failure(f"client report {report} differs from expected {expect} in {wrong}; "
                          f"server stderr: {srv.stderr_tail()}")
        interop.check_server_exit(srv, code)
        check_relay(relay_stats, relay.stderr_path)
        lost = relay_stats["to_server"]["dropped"] + relay_stats["to_client"]["dropped"]
        held = relay_stats["to_server"]["reordered"] + relay_stats["to_client"]["reordered"]
        return (f"{report.get('download_mib_s', 0)} MiB/s down, {report.get('upload_mib_s', 0)} MiB/s up; "
                f"relay lost {lost}, reordered {held}, rebound once")

    label = (f"{interop.NAMES[client]} client -> {interop.NAMES[server]} server through lossy relay: "
             f"{requests} requests ({interop.human(download)} down, {interop.human(upload)} up, {streams} streams)")
    return label, run


def cases():
    return [
        lossy_case("ferry", "ferry", download=4 * MIB, upload=1 * MIB, streams=2, requests=2),
        lossy_case("aioquic", "ferry", download=4 * MIB, upload=256 * 1024, streams=1, requests=2),
        lossy_case("ferry", "aioquic", download=4 * MIB, upload=256 * 1024, streams=1, requests=2),
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-path", help="directory holding ferry-bench (default: swift build --show-bin-path)")
    parser.add_argument("--only", action="append", default=[], help="run only cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-client timeout in seconds")
    parser.add_argument("--seed", type=int, default=7, help="relay RNG seed")
    parser.add_argument("--loss", type=float, default=0.02, help="relay loss per datagram and direction")
    parser.add_argument("--reorder", type=float, default=0.03, help="relay reordering probability")
    parser.add_argument("--reorder-delay-ms", type=float, default=8.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) for inspection")
    args = parser.parse_args()

    def terminate(signum, _frame):
        interop.PROCESSES.kill_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)

    relay_options = ["--seed", str(args.seed), "--loss", str(args.loss), "--reorder", str(args.reorder),
                     "--reorder-delay-ms", str(args.reorder_delay_ms)]
    workdir = tempfile.mkdtemp(prefix="ferry-lossy-")
    passed = failed = skipped = 0
    try:
        peers = interop.Peers(interop.find_bin_path(args.bin_path), workdir)
        selected = [(label, run) for label, run in cases() if not args.only or any(o in label for o in args.only)]
        for label, run in selected:
            started = time.monotonic()
            try:
                detail = run(peers, args.timeout, relay_options)
                passed += 1
                print(f"PASS  {label}  [{time.monotonic() - started:.1f}s, {detail}]", flush=True)
            except Skip as reason:
                skipped += 1
                print(f"SKIP  {label}  ({reason})", flush=True)
            except Exception as reason:  # Failure, or a harness bug: either way the case did not pass
                failed += 1
                print(f"FAIL  {label}  [{time.monotonic() - started:.1f}s]\n      {reason}", flush=True)
            finally:
                interop.PROCESSES.kill_all()
    finally:
        interop.PROCESSES.kill_all()
        if args.keep:
            print(f"logs kept in {workdir}", file=sys.stderr)
        else:
            subprocess.run(["rm", "-rf", workdir])
    summary = f"{passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(summary, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
