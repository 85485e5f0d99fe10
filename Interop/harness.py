"""Shared harness for Interop/run_interop.py and Interop/run_lossy.py: child processes, perf servers and clients,
the peers' identities and command lines, report checks, and the case loop with its `N passed, N failed` summary.

A case is a (label, run) pair; run(peers, timeout, *extra) returns a detail string on success and raises
Failure (or Skip, when an optional peer is missing) otherwise. A skipped case fails the run (its exit status)
unless --allow-skips is given: in CI a case that silently stops running must not look like a pass.
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
AIOQUIC_CASE_CLIENT = os.path.join(ROOT, "Interop", "aioquic_case_client.py")
RELAY = os.path.join(ROOT, "Interop", "udp_relay.py")
QUINN_PERF = os.path.join(ANCHORS, "quinn-perf", "target", "release", "quinn-perf")
MIB = 1 << 20
NAMES = {"aioquic": "aioquic", "quinn": "quinn-perf", "ferry": "ferry-bench"}


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
    """A perf server process; `target` is its `ID@ip:port` once it printed the listening line. Later stdout lines
    collect in `extra_stdout`; `wait_for_line` waits (bounded) for one that matches."""

    def __init__(self, name, argv, workdir, startup_timeout):
        self.name = name
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.stderr = open(self.stderr_path, "wb")
        self.process = PROCESSES.spawn(argv, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.extra_stdout = []
        self.changed = threading.Condition()
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
            with self.changed:
                self.extra_stdout.append(line.decode(errors="replace").rstrip())
                self.changed.notify_all()

    def wait_for_line(self, predicate, timeout):
        """The last stdout line satisfying `predicate`, waiting up to `timeout` seconds for one; None if none."""
        def found():
            return next((line for line in reversed(self.extra_stdout) if predicate(line)), None)

        with self.changed:
            self.changed.wait_for(lambda: found() is not None, timeout)
            return found()

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

# A private OID (arc 1.3.6.1.4.1.55555, unregistered) for the filler extension: unknown and non-critical, so every
# verifier must ignore it (RFC 5280 §4.2).
FILLER_EXTENSION_OID = "1.3.6.1.4.1.55555.1"


def make_certificate(key, padding=0):
    """A self-signed certificate for an Ed25519 key, CN = the endpoint id; `padding` adds a non-critical
    extension of that many filler bytes, which makes a TLS Certificate message as large as a CA chain's."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import NameOID, ObjectIdentifier

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, raw)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if padding:
        filler = x509.UnrecognizedExtension(ObjectIdentifier(FILLER_EXTENSION_OID), os.urandom(padding))
        builder = builder.add_extension(filler, critical=False)
    return builder.sign(key, None)


def make_chain_file(path, count, padding):
    """A PEM file of `count` filler certificates (fresh keys, `padding` filler bytes each); returns its DER size."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    total = 0
    with open(path, "wb") as handle:
        for _ in range(count):
            certificate = make_certificate(ed25519.Ed25519PrivateKey.generate(), padding)
            total += len(certificate.public_bytes(serialization.Encoding.DER))
            handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    return total


def write_padded_certificate(identity, path, padding):
    """cert.der for the identity in `identity` (its key.pem) with `padding` filler bytes; returns its size."""
    from cryptography.hazmat.primitives import serialization

    with open(os.path.join(identity, "key.pem"), "rb") as handle:
        key = serialization.load_pem_private_key(handle.read(), password=None)
    der = make_certificate(key, padding).public_bytes(serialization.Encoding.DER)
    with open(path, "wb") as handle:
        handle.write(der)
    return len(der)


def make_identity(directory):
    """key.pem (PKCS#8 Ed25519, mode 0600), cert.pem and cert.der (self-signed); returns the endpoint id."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    os.makedirs(directory, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    certificate = make_certificate(key)
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

    def client_argv(self, kind, target, options, case_client=False):
        """A client's command line; `case_client` picks aioquic_case_client.py (cipher, key update and migration
        options) over the anchor's perf client for aioquic."""
        key = os.path.join(self.client_identity, "key.pem")
        if kind == "aioquic":
            self.require_aioquic()
            return [VENV_PYTHON, AIOQUIC_CASE_CLIENT if case_client else AIOQUIC_CLIENT, "--connect", target,
                    "--key", key, "--cert", os.path.join(self.client_identity, "cert.pem")] + options
        if kind == "quinn":
            self.require_quinn()
            return [QUINN_PERF, options[0], "--connect", target, "--key", key,
                    "--cert", os.path.join(self.client_identity, "cert.der")] + options[1:]
        self.require_ferry_bench()
        return [self.ferry_bench, options[0], "--connect", target, "--key", key] + options[1:]


# ---- perf transfers ----------------------------------------------------------------------------------------

def perf_options(client, download, upload, streams, requests, connections):
    """The perf client's transfer options; every client but aioquic's takes a `client` subcommand first."""
    options = ["--download", str(download), "--upload", str(upload), "--streams", str(streams),
               "--requests", str(requests), "--connections", str(connections)]
    return options if client == "aioquic" else ["client"] + options


def check_transfer(report, server, code, download, upload, requests, connections):
    """The client's JSON shows exact byte and request counts with no errors, and the server stopped cleanly;
    returns the throughput for the case's line."""
    total = requests * connections
    expect = {"errors": 0, "connections": connections, "requests": total,
              "bytes_down": download * total, "bytes_up": upload * total}
    wrong = {key: report.get(key) for key, value in expect.items() if report.get(key) != value}
    if wrong:
        raise Failure(f"client report {report} differs from expected {expect} in {wrong}; "
                      f"server stderr: {server.stderr_tail()}")
    check_server_exit(server, code)
    return f"{report.get('download_mib_s', 0)} MiB/s down, {report.get('upload_mib_s', 0)} MiB/s up"


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


# ---- the case loop -----------------------------------------------------------------------------------------

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


def parse_arguments(description, add_options=None):
    """The runners' common options (--bin-path, --only, --timeout, --keep) plus whatever `add_options` adds."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bin-path", help="directory holding ferry-bench (default: swift build --show-bin-path)")
    parser.add_argument("--only", action="append", default=[], help="run only cases whose name contains this")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-client timeout in seconds")
    parser.add_argument("--allow-skips", action="store_true",
                        help="exit 0 even if cases were skipped (a peer is not installed); CI never passes it")
    if add_options:
        add_options(parser)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs) for inspection")
    return parser.parse_args()


def run_cases(cases, args, workdir_prefix, *extra):
    """Runs the cases --only selects as run(peers, args.timeout, *extra), killing every child after each.

    Prints one line per case (PASS/SKIP/FAIL), then `N passed, N failed` (and `, N skipped` when any were)
    alone on the last line: Scripts/test greps it. Returns the exit status: 1 if any case failed, or was skipped
    without --allow-skips.
    """
    def terminate(signum, _frame):
        PROCESSES.kill_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGINT, terminate)

    workdir = tempfile.mkdtemp(prefix=workdir_prefix)
    passed = failed = skipped = 0
    try:
        peers = Peers(find_bin_path(args.bin_path), workdir)
        selected = [(label, run) for label, run in cases if not args.only or any(o in label for o in args.only)]
        for label, run in selected:
            started = time.monotonic()
            try:
                detail = run(peers, args.timeout, *extra)
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
    if skipped and not args.allow_skips:
        print(f"{skipped} skipped cases fail the run (pass --allow-skips to accept them)", file=sys.stderr)
    return 1 if failed or (skipped and not args.allow_skips) else 0


# ---- the impairing relay -----------------------------------------------------------------------------------

class RelayProcess:
    """udp_relay.py in its own process group; `address` once it printed `relay IP:PORT`. Its later stdout lines
    collect in `lines`; `stop()` returns the counters it prints on SIGTERM."""

    def __init__(self, target, workdir, options, startup_timeout=20.0, name="relay"):
        self.stderr_path = os.path.join(workdir, f"{name}.stderr")
        self.stderr = open(self.stderr_path, "wb")
        argv = [sys.executable, RELAY, "--target", target] + options
        self.process = PROCESSES.spawn(argv, stdout=subprocess.PIPE, stderr=self.stderr, stdin=subprocess.DEVNULL)
        self.lines = []
        self.ready = threading.Event()
        self.finished = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(startup_timeout) or not self.lines or not self.lines[0].startswith("relay "):
            self.stop()
            raise Failure(f"relay printed no 'relay IP:PORT' line within {startup_timeout:.0f}s; "
                          f"stdout {self.lines}; stderr: {tail(self.stderr_path)}")
        self.address = self.lines[0].split()[1]

    def _read(self):
        for raw in self.process.stdout:
            self.lines.append(raw.decode(errors="replace").rstrip())
            self.ready.set()
        self.ready.set()
        self.finished.set()

    def events(self):
        return [line for line in self.lines[1:] if not line.startswith("stats ")]

    def stop(self):
        """SIGTERM (the relay then prints its stats and exits), then the counters, or None."""
        PROCESSES.stop(self.process)
        self.finished.wait(10)
        self.stderr.close()
        for line in reversed(self.lines):
            if line.startswith("stats "):
                return json.loads(line[len("stats "):])
        return None
