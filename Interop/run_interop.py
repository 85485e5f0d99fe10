#!/usr/bin/env python3
"""Ferry's interop matrix: ferry-bench against aioquic and quinn-perf over the perf protocol, on loopback.

Every case starts its own server (waiting for its `listening ID@ip:port` line, never a fixed sleep), runs one
client with a bounded timeout, checks the client's JSON (errors == 0, exact byte and request counts) and the
server's exit, then kills every process it started. One line per case, then `N passed, N failed` (and
`, N skipped` when a peer is missing) alone on the last line. Exit status 1 if any case failed, or was skipped
without --allow-skips.

Anchor-to-anchor pairs (aioquic <-> quinn-perf) run too: they prove the harness and the peers themselves.

Usage: .venv/bin/python Interop/run_interop.py [--bin-path DIR] [--only SUBSTRING] [--timeout SECS] [--keep]
Run Scripts/setup first (it makes .venv and builds quinn-perf). The ferry-bench binary
comes from --bin-path, $FERRY_BIN_PATH, or `swift build -c release --show-bin-path` (honouring
$SWIFT_SCRATCH_PATH).
"""
import os
import sys

from harness import MIB, NAMES, VENV_PYTHON, Failure, Server, check_server_exit, check_transfer, human, \
    parse_arguments, perf_options, run_cases, run_client

INTEROP = os.path.dirname(os.path.abspath(__file__))
NO_CERT_CLIENT = os.path.join(INTEROP, "no_cert_client.py")
ALLOWLIST_CLIENT = os.path.join(INTEROP, "allowlist_client.py")


def transfer_case(client, server, download, upload, streams, requests, connections=1, server_options=()):
    """A perf transfer: `requests` requests per connection, `streams` in flight, exact byte counts checked."""
    def run(peers, timeout):
        # Check the client side can run before starting a server.
        peers.client_argv(client, "x@127.0.0.1:1", ["client"])
        srv = Server(f"{server}-server", peers.server_argv(server) + list(server_options), peers.workdir,
                     startup_timeout=30)
        try:
            options = perf_options(client, download, upload, streams, requests, connections)
            report = run_client(f"{client}-client", peers.client_argv(client, srv.target, options),
                                peers.workdir, timeout)
        finally:
            code = srv.stop()
        return check_transfer(report, srv, code, download, upload, requests, connections)

    label = (f"{NAMES[client]} client -> {NAMES[server]} server{''.join(' ' + o for o in server_options)}: "
             f"perf, {connections}x{requests} requests "
             f"({human(download)} down, {human(upload)} up, {streams} streams)")
    return label, run


def handshake_case(client, server, count, concurrency):
    def run(peers, timeout):
        peers.client_argv(client, "x@127.0.0.1:1", ["handshakes"])
        srv = Server(f"{server}-server", peers.server_argv(server), peers.workdir, startup_timeout=30)
        try:
            report = run_client(f"{client}-handshakes",
                                peers.client_argv(client, srv.target, ["handshakes", "--count", str(count),
                                                                       "--concurrency", str(concurrency)]),
                                peers.workdir, timeout)
        finally:
            code = srv.stop()
        if report.get("errors") != 0 or report.get("handshakes") != count:
            raise Failure(f"handshake report {report}, expected {count} handshakes and no errors")
        check_server_exit(srv, code)
        return f"{report.get('handshakes_per_s')} handshakes/s"

    return f"{NAMES[client]} handshakes -> {NAMES[server]} server: {count} x (handshake + 1 request)", run


def refusal_case(server):
    """An aioquic client with no certificate must be refused with a TLS alert: the servers require mutual TLS."""
    def run(peers, timeout):
        peers.require_aioquic()
        srv = Server(f"{server}-server", peers.server_argv(server), peers.workdir, startup_timeout=30)
        try:
            report = run_client("no-cert-client", [VENV_PYTHON, NO_CERT_CLIENT, "--connect", srv.target],
                                peers.workdir, timeout)
        finally:
            code = srv.stop()
        if not report.get("refused"):
            raise Failure(f"the server did not refuse a client without a certificate: {report}")
        check_server_exit(srv, code)
        code_text = f"0x{report['error_code']:x}" if report.get("error_code") is not None else "handshake"
        return f"refused: {code_text} {report.get('reason', '')}".strip()

    return f"aioquic client without a certificate -> {NAMES[server]} server: refused", run


def allowlist_case(allowed):
    """ferry-bench server with an afterHandshake allowlist hook (--allow): an aioquic client is closed with the
    hook's code 0x403 when its id is not listed, and served once it is."""
    def run(peers, timeout):
        peers.require_aioquic()
        allow = peers.client_id if allowed else "00" * 32
        srv = Server("ferry-allowlist-server", peers.server_argv("ferry") + ["--allow", allow], peers.workdir,
                     startup_timeout=30)
        try:
            expect = ["--expect-served"] if allowed else ["--expect-code", "0x403"]
            report = run_client("allowlist-client",
                                [VENV_PYTHON, ALLOWLIST_CLIENT, "--connect", srv.target,
                                 "--key", os.path.join(peers.client_identity, "key.pem"),
                                 "--cert", os.path.join(peers.client_identity, "cert.pem")] + expect,
                                peers.workdir, timeout)
        finally:
            code = srv.stop()
        check_server_exit(srv, code)
        if allowed:
            return "served"
        return f"closed by the hook: 0x{report['error_code']:x} {report.get('reason', '')}".strip()

    verdict = "served" if allowed else "closed with 0x403"
    return f"aioquic client -> ferry-bench server --allow {'its id' if allowed else 'another id'}: {verdict}", run


def cases():
    return [
        # Anchor pairs first: they validate the harness and the peers.
        transfer_case("aioquic", "quinn", download=4 * MIB, upload=1 * MIB, streams=4, requests=8),
        transfer_case("quinn", "aioquic", download=4 * MIB, upload=1 * MIB, streams=4, requests=8),
        handshake_case("quinn", "aioquic", count=20, concurrency=4),
        refusal_case("quinn"),
        refusal_case("aioquic"),
        # aioquic <-> Ferry.
        transfer_case("aioquic", "ferry", download=4 * MIB, upload=1 * MIB, streams=4, requests=8),
        transfer_case("aioquic", "ferry", download=16 * MIB, upload=0, streams=1, requests=1, connections=2),
        transfer_case("ferry", "aioquic", download=4 * MIB, upload=1 * MIB, streams=4, requests=8),
        transfer_case("ferry", "aioquic", download=0, upload=8 * MIB, streams=1, requests=1),
        refusal_case("ferry"),
        allowlist_case(allowed=False),
        allowlist_case(allowed=True),
        # Retry for every unvalidated Initial (RFC 9000 §8.1.2): clients must follow it.
        transfer_case("aioquic", "ferry", download=1 * MIB, upload=64 * 1024, streams=2, requests=4, connections=2,
                      server_options=("--retry",)),
        transfer_case("quinn", "ferry", download=1 * MIB, upload=64 * 1024, streams=2, requests=4, connections=2,
                      server_options=("--retry",)),
        # quinn <-> Ferry.
        transfer_case("quinn", "ferry", download=64 * MIB, upload=16 * MIB, streams=4, requests=8),
        transfer_case("quinn", "ferry", download=1024, upload=1024, streams=32, requests=256, connections=4),
        handshake_case("quinn", "ferry", count=200, concurrency=16),
        transfer_case("ferry", "quinn", download=64 * MIB, upload=16 * MIB, streams=4, requests=8),
        transfer_case("ferry", "quinn", download=1024, upload=1024, streams=32, requests=256, connections=4),
        handshake_case("ferry", "quinn", count=200, concurrency=16),
        # Ferry with itself.
        transfer_case("ferry", "ferry", download=64 * MIB, upload=16 * MIB, streams=4, requests=8),
        handshake_case("ferry", "ferry", count=200, concurrency=16),
    ]


def main():
    args = parse_arguments(__doc__.splitlines()[0])
    return run_cases(cases(), args, "ferry-interop-")


if __name__ == "__main__":
    sys.exit(main())
