#!/usr/bin/env python3
"""Ferry's interop matrix: ferry-bench against aioquic and quinn-perf over the perf protocol, on loopback.

Every case starts its own server (waiting for its `listening ID@ip:port` line, never a fixed sleep), runs one
client with a bounded timeout, checks the client's JSON (errors == 0, exact byte and request counts) and the
server's exit, then kills every process it started. One line per case, then `N passed, N failed` (and
`, N skipped` when an optional peer is missing) alone on the last line. Exit status 1 if any case failed.

Anchor-to-anchor pairs (aioquic <-> quinn-perf) run too: they prove the harness and the peers themselves.

Usage: .venv/bin/python Interop/run_interop.py [--bin-path DIR] [--only SUBSTRING] [--timeout SECS] [--keep]
Run Scripts/setup first (it makes .venv and builds quinn-perf when cargo is present). The ferry-bench binary
comes from --bin-path, $FERRY_BIN_PATH, or `swift build -c release --show-bin-path` (honouring
$SWIFT_SCRATCH_PATH).
"""
import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ANCHORS = os.environ.get("FERRY_ANCHORS", os.path.join(ROOT, "..", "shared", "anchors"))
VENV_PYTHON = os.path.join(ROOT, ".venv", "bin", "python")
AIOQUIC_SERVER = os.path.join(ROOT, "Interop", "aioquic_perf_server.py")
AIOQUIC_CLIENT = os.path.join(ANCHORS, "aioquic-perf", "perf_client.py")
NO_CERT_CLIENT = os.path.join(ROOT, "Interop", "no_cert_client.py")
ALLOWLIST_CLIENT = os.path.join(ROOT, "Interop", "allowlist_client.py")
QUINN_PERF = os.path.join(ANCHORS, "quinn-perf", "target", "release", "quinn-perf")
MIB = 1 << 20


class Skip(Exception):
    """The case needs a peer that is not installed here."""


class Failure(Exception):
    """The case ran and something was wrong."""


# ---- processes ---------------------------------------------------------------------------------------------

class Processes:
    """Every child runs in its own process group; kill_all() ends each group (TERM, then KILL)."""

    def __init__(self):
        self.children = []

    def spawn(self, argv, **kwargs):
        child = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.children.append(child)
        return child

    def stop(self, child, grace=5.0):
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        if child.poll() is None:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            child.wait()
        return child.returncode

    def kill_all(self):
        for child in self.children:
            self.stop(child, grace=2.0)
        self.children.clear()


PROCESSES = Processes()


class Server:
    """A perf server process; `target` is its `ID@ip:port` once it printed the listening line."""

    def __init__(self, name, argv, workdir, startup_timeout):
        self.name = name
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.stderr = open(self.stderr_path, "wb")
        self.process = PROCESSES.spawn(argv, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.extra_stdout = []
        line = self._read_line(startup_timeout)
        parts = line.split()
        if len(parts) != 2 or parts[0] != "listening" or "@" not in parts[1]:
            self.stop()
            raise Failure(f"{name} did not print 'listening ID@ip:port' (got {line!r}); stderr: {self.stderr_tail()}")
        self.target = parts[1]
        # Keep draining stdout so a chatty server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _read_line(self, timeout):
        result = []
        reader = threading.Thread(target=lambda: result.append(self.process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if not result:
            self.stop()
            raise Failure(f"{self.name} printed no listening line within {timeout:.0f}s; stderr: {self.stderr_tail()}")
        return result[0].decode(errors="replace").strip()

    def _drain(self):
        for line in self.process.stdout:
            self.extra_stdout.append(line.decode(errors="replace").rstrip())

    def stderr_tail(self, lines=8):
        return tail(self.stderr_path, lines)

    def stop(self):
        code = PROCESSES.stop(self.process)
        self.stderr.close()
        return code


def run_client(name, argv, workdir, timeout):
    """Runs a client to completion (killed after `timeout`); returns its last stdout line parsed as JSON."""
    stderr_path = os.path.join(workdir, f"{name}.stderr")
    with open(stderr_path, "wb") as stderr:
        child = PROCESSES.spawn(argv, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)
        try:
            stdout, _ = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            PROCESSES.stop(child)
            raise Failure(f"{name} did not finish within {timeout:.0f}s; stderr: {tail(stderr_path)}")
    lines = [line for line in stdout.decode(errors="replace").splitlines() if line.strip()]
    if not lines:
        raise Failure(f"{name} exited {child.returncode} without output; stderr: {tail(stderr_path)}")
    try:
        report = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise Failure(f"{name} printed no JSON ({lines[-1]!r}), exit {child.returncode}; stderr: {tail(stderr_path)}")
    if child.returncode != 0:
        raise Failure(f"{name} exited {child.returncode}: {lines[-1]}; stderr: {tail(stderr_path)}")
    return report


def tail(path, lines=8):
    try:
        with open(path, "rb") as handle:
            return " | ".join(handle.read().decode(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


# ---- identities --------------------------------------------------------------------------------------------

def make_identity(directory):
    """key.pem (PKCS#8 Ed25519, mode 0600), cert.pem and cert.der (self-signed); returns the endpoint id."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519
    from cryptography.x509.oid import NameOID

    os.makedirs(directory, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, raw)])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, None)
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(os.path.join(directory, "key.pem"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    with open(os.path.join(directory, "cert.pem"), "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(directory, "cert.der"), "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.DER))
    return raw


# ---- peers -------------------------------------------------------------------------------------------------

class Peers:
    def __init__(self, bin_path, workdir):
        self.bin_path = bin_path
        self.workdir = workdir
        self.server_identity = os.path.join(workdir, "server")
        self.client_identity = os.path.join(workdir, "client")
        make_identity(self.server_identity)
        self.client_id = make_identity(self.client_identity)
        self._ferry_bench_problem = None
        self._ferry_bench_checked = False

    @property
    def ferry_bench(self):
        return os.path.join(self.bin_path, "ferry-bench") if self.bin_path else None

    def require_ferry_bench(self):
        """Fails the case (not skips: ferry-bench is the product) when the binary is missing or a placeholder."""
        if not self._ferry_bench_checked:
            self._ferry_bench_checked = True
            path = self.ferry_bench
            if not path or not os.access(path, os.X_OK):
                self._ferry_bench_problem = f"ferry-bench not built ({path or 'no bin path'})"
            else:
                try:
                    probe = subprocess.run([path, "server", "--help"], capture_output=True, timeout=20)
                    text = (probe.stdout + probe.stderr).decode(errors="replace")
                    if probe.returncode != 0 or "--listen" not in text:
                        self._ferry_bench_problem = "ferry-bench has no working 'server' subcommand yet: " + \
                            (text.strip().splitlines() or ["(no output)"])[0]
                except (OSError, subprocess.TimeoutExpired) as error:
                    self._ferry_bench_problem = f"ferry-bench cannot run: {error}"
        if self._ferry_bench_problem:
            raise Failure(self._ferry_bench_problem)

    @staticmethod
    def require_quinn():
        if not os.access(QUINN_PERF, os.X_OK):
            raise Skip("quinn-perf not built (no cargo; Scripts/setup builds it when cargo is present)")

    @staticmethod
    def require_aioquic():
        if not os.access(VENV_PYTHON, os.X_OK):
            raise Failure(".venv missing: run Scripts/setup")
        if not os.path.exists(AIOQUIC_CLIENT):
            raise Failure(f"{AIOQUIC_CLIENT} missing (../shared/anchors must sit beside the repo)")

    # Servers: every one listens on 127.0.0.1:0 and prints `listening ID@ip:port`.
    def server_argv(self, kind):
        key = os.path.join(self.server_identity, "key.pem")
        cert = os.path.join(self.server_identity, "cert.der")
        if kind == "aioquic":
            self.require_aioquic()
            return [VENV_PYTHON, AIOQUIC_SERVER, "--listen", "127.0.0.1:0", "--key", key]
        if kind == "quinn":
            self.require_quinn()
            return [QUINN_PERF, "server", "--listen", "127.0.0.1:0", "--key", key, "--cert", cert]
        self.require_ferry_bench()
        return [self.ferry_bench, "server", "--listen", "127.0.0.1:0", "--key", key]

    def client_argv(self, kind, target, options):
        key = os.path.join(self.client_identity, "key.pem")
        if kind == "aioquic":
            self.require_aioquic()
            return [VENV_PYTHON, AIOQUIC_CLIENT, "--connect", target, "--key", key,
                    "--cert", os.path.join(self.client_identity, "cert.pem")] + options
        if kind == "quinn":
            self.require_quinn()
            return [QUINN_PERF, options[0], "--connect", target, "--key", key,
                    "--cert", os.path.join(self.client_identity, "cert.der")] + options[1:]
        self.require_ferry_bench()
        return [self.ferry_bench, options[0], "--connect", target, "--key", key] + options[1:]


# ---- cases -------------------------------------------------------------------------------------------------

NAMES = {"aioquic": "aioquic", "quinn": "quinn-perf", "ferry": "ferry-bench"}


def transfer_case(client, server, download, upload, streams, requests, connections=1, server_options=()):
    """A perf transfer: `requests` requests per connection, `streams` in flight, exact byte counts checked."""
    def run(peers, timeout):
        # Check the client side can run before starting a server.
        peers.client_argv(client, "x@127.0.0.1:1", ["client"])
        srv = Server(f"{server}-server", peers.server_argv(server) + list(server_options), peers.workdir,
                     startup_timeout=30)
        try:
            options = ["--download", str(download), "--upload", str(upload), "--streams", str(streams),
                       "--requests", str(requests), "--connections", str(connections)]
            if client != "aioquic":
                options = ["client"] + options
            report = run_client(f"{client}-client", peers.client_argv(client, srv.target, options),
                                peers.workdir, timeout)
        finally:
            code = srv.stop()
        total = requests * connections
        expect = {"errors": 0, "connections": connections, "requests": total,
                  "bytes_down": download * total, "bytes_up": upload * total}
        wrong = {k: report.get(k) for k, v in expect.items() if report.get(k) != v}
        if wrong:
            raise Failure(f"client report {report} differs from expected {expect} in {wrong}; "
                          f"server stderr: {srv.stderr_tail()}")
        check_server_exit(srv, code)
        return f"{report.get('download_mib_s', 0)} MiB/s down, {report.get('upload_mib_s', 0)} MiB/s up"

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


def check_server_exit(server, code):
    """A server must stop cleanly on SIGTERM; the aioquic server also reports its own error count."""
    if code not in (0, -signal.SIGTERM, 128 + signal.SIGTERM, 130, -signal.SIGINT):
        raise Failure(f"{server.name} exited with status {code}; stderr: {server.stderr_tail()}")
    summary = server.stderr_tail(lines=2)
    if "aioquic_perf_server:" in summary and "errors=0" not in summary:
        raise Failure(f"{server.name} counted errors: {summary}")


def human(size):
    if size >= MIB and size % MIB == 0:
        return f"{size // MIB} MiB"
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


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


def find_bin_path(explicit):
    if explicit:
        return explicit
    if os.environ.get("FERRY_BIN_PATH"):
        return os.environ["FERRY_BIN_PATH"]
    argv = ["swift", "build", "-c", "release", "--show-bin-path"]
    if os.environ.get("SWIFT_SCRATCH_PATH"):
        argv += ["--scratch-path", os.environ["SWIFT_SCRATCH_PATH"]]
    try:
        result = subprocess.run(argv, cwd=ROOT, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = result.stdout.decode().strip().splitlines()
    return lines[-1] if result.returncode == 0 and lines else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-path", help="directory holding ferry-bench (default: swift build --show-bin-path)")
    parser.add_argument("--only", action="append", default=[], help="run only cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-client timeout in seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) for inspection")
    args = parser.parse_args()

    def terminate(signum, _frame):
        PROCESSES.kill_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)

    workdir = tempfile.mkdtemp(prefix="ferry-interop-")
    passed = failed = skipped = 0
    try:
        peers = Peers(find_bin_path(args.bin_path), workdir)
        selected = [(label, run) for label, run in cases() if not args.only or any(o in label for o in args.only)]
        for label, run in selected:
            started = time.monotonic()
            try:
                detail = run(peers, args.timeout)
                passed += 1
                print(f"PASS  {label}  [{time.monotonic() - started:.1f}s, {detail}]", flush=True)
            except Skip as reason:
                skipped += 1
                print(f"SKIP  {label}  ({reason})", flush=True)
            except Exception as reason:  # Failure, or a harness bug: either way the case did not pass
                failed += 1
                print(f"FAIL  {label}  [{time.monotonic() - started:.1f}s]\n      {reason}", flush=True)
            finally:
                PROCESSES.kill_all()
    finally:
        PROCESSES.kill_all()
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
