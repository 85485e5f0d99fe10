"""The NAT lab (docs/relay.md §9): ferryd endpoints behind nftables NATs reach each other by id through ferry-relay.

Every case builds its own topology with `ip netns`, veth pairs and nftables, from the 198.18.0.0/15 benchmarking
range, and removes it afterwards, even on failure. Nothing is sent outside the namespaces it made.

    inet (bridge 198.18.0.0/24)
     ├─ relay1 198.18.0.10, relay2 198.18.0.11      ferry-relay (UDP and TCP on port 7800)
     ├─ natA 198.18.0.1 ── lan 198.19.1.1/24 ── hostA 198.19.1.2   ferryd A: tunnel 127.0.0.1:9100 → B/data
     └─ natB 198.18.0.2 ── lan 198.19.2.1/24 ── hostB 198.19.2.2   ferryd B: service data → 127.0.0.1:9000 (echo)

Each NAT masquerades its LAN (no port forwarding), and its forward and input chains accept from the WAN only
`ct state established,related`: unsolicited inbound UDP is dropped (before conntrack keeps any state for it, as on
a home router), so A and B cannot reach each other directly until both have sent.
A tunnel on A reaches B's TCP service by B's id alone; 64 MiB pass both ways with equal SHA-256.

Needs root (CI runs as root), `ip` and `nft` (Scripts/setup installs nftables). Prints one line per case and
`N passed, N failed` last. `--bench-punch N` instead measures the time to a direct path per matrix row over N fresh
connections, and `--bench-throughput N` the download over a punched path against a direct dial, N runs each,
alternating (Interop/nat_bench.py; docs/benchmarks.md).
"""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

LAB_TCP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab_tcp.py")
RELAY_PORT = 7800
TRANSFER = 64 << 20


def run(argv, check=True, **kwargs):
    result = subprocess.run(argv, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        raise harness.Failure(f"{' '.join(argv)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


class Lab:
    """One topology: namespaces named ferrylab<tag>-<role>, removed by close()."""

    counter = 0

    def __init__(self, workdir):
        Lab.counter += 1
        self.tag = f"{os.getpid() % 10000}{Lab.counter}"
        self.workdir = workdir
        self.namespaces = []
        self.links = 0

    def ns(self, role):
        return f"ferrylab{self.tag}-{role}"

    def add(self, role):
        name = self.ns(role)
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def veth(self, left, left_name, right, right_name):
        """A veth pair between two namespaces, named left_name / right_name inside them."""
        self.links += 1
        a, b = f"fl{self.tag}a{self.links}", f"fl{self.tag}b{self.links}"
        run(["ip", "link", "add", a, "type", "veth", "peer", "name", b])
        run(["ip", "link", "set", a, "netns", left])
        run(["ip", "link", "set", b, "netns", right])
        run(["ip", "-n", left, "link", "set", a, "name", left_name])
        run(["ip", "-n", right, "link", "set", b, "name", right_name])
        run(["ip", "-n", left, "link", "set", left_name, "up"])
        run(["ip", "-n", right, "link", "set", right_name, "up"])

    def address(self, namespace, interface, cidr):
        run(["ip", "-n", namespace, "addr", "add", cidr, "dev", interface])

    def build(self, relays=1, udp_blocked_at_a=False, mapping=None, filtering=None, same_lan=False, public_a=False):
        """The lab. `mapping` and `filtering` give each NAT's behaviour (RFC 4787): mapping "eim" (`masquerade`,
        which keeps the port) or "edm" (`masquerade random`: a new port per destination, a symmetric NAT);
        filtering "apdf" (inbound only for established flows) or "eif" (also inbound to the mapped port 7777 from
        anyone: a full cone). With `same_lan`, hostA and hostB share natA's LAN (198.19.1.2 and .3) and natB is absent;
        with `public_a`, hostA has the public address 198.18.0.1 and no NAT.
        """
        mapping = mapping or {}
        filtering = filtering or {}
        inet = self.add("inet")
        run(["ip", "-n", inet, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", inet, "link", "set", "br0", "up"])
        ports = 0

        def attach(namespace, cidr):
            nonlocal ports
            ports += 1
            port = f"p{ports}"
            self.veth(namespace, "wan", inet, port)
            run(["ip", "-n", inet, "link", "set", port, "master", "br0"])
            self.address(namespace, "wan", cidr)

        for index in range(relays):
            attach(self.add(f"relay{index + 1}"), f"198.18.0.{10 + index}/24")
        sides = (("A", 1, 1),) if same_lan else (("A", 1, 1), ("B", 2, 2))
        if public_a:
            # Host A sits on the lab's internet itself, at 198.18.0.1, with no NAT in front of it.
            attach(self.add("hostA"), "198.18.0.1/24")
            sides = (("B", 2, 2),)
        for side, wan, lan in sides:
            nat = self.add(f"nat{side}")
            attach(nat, f"198.18.0.{wan}/24")
            hosts = [("A", 2), ("B", 3)] if same_lan else [(side, 2)]
            if same_lan:
                run(["ip", "-n", nat, "link", "add", "lan", "type", "bridge"])
                run(["ip", "-n", nat, "link", "set", "lan", "up"])
            for host_side, last in hosts:
                host = self.add(f"host{host_side}")
                if same_lan:
                    self.veth(nat, f"port{host_side}", host, "eth0")
                    run(["ip", "-n", nat, "link", "set", f"port{host_side}", "master", "lan"])
                else:
                    self.veth(nat, "lan", host, "eth0")
                self.address(host, "eth0", f"198.19.{lan}.{last}/24")
                run(["ip", "-n", host, "route", "add", "default", "via", f"198.19.{lan}.1"])
            self.address(nat, "lan", f"198.19.{lan}.1/24")
            run(["ip", "netns", "exec", nat, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
            block = 'iifname "lan" meta l4proto udp drop' if (side == "A" and udp_blocked_at_a) else ""
            masquerade = "masquerade random" if mapping.get(side, "eim") == "edm" else "masquerade"
            full_cone = filtering.get(side, "apdf") == "eif"
            inbound = f'iifname "wan" oifname "lan" ip daddr 198.19.{lan}.2 udp dport 7777 accept' if full_cone else ""
            if same_lan:
                # Hosts on one LAN talk through the bridge; with br_netfilter loaded, bridged packets pass this
                # chain too, so let LAN-to-LAN traffic through (it never reaches the NAT).
                inbound += '\n    iifname "lan" oifname "lan" accept'
            dnat = (f"""  chain prerouting {{
    type nat hook prerouting priority -100;
    iifname "wan" udp dport 7777 dnat to 198.19.{lan}.2:7777
  }}""" if full_cone else "")
            rules = f"""
table ip lab {{
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname "wan" ct state established,related accept
    iifname "wan" drop
  }}
  chain forward {{
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    {block}
    {inbound.strip()}
    iifname "lan" oifname "wan" accept
  }}
{dnat}
  chain postrouting {{
    type nat hook postrouting priority 100;
    oifname "wan" {masquerade}
  }}
}}
"""
            run(["ip", "netns", "exec", nat, "nft", "-f", "-"], input=rules)

    def exec(self, role, argv):
        return ["ip", "netns", "exec", self.ns(role)] + argv

    def close(self):
        harness.PROCESSES.kill_all()
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        self.namespaces.clear()


# ---- the programs ----------------------------------------------------------------------------------------

def keygen(bin_path, path):
    result = run([os.path.join(bin_path, "ferry"), "keygen", "--output", path])
    return result.stdout.strip().split()[-1]


def write(path, text):
    with open(path, "w") as handle:
        handle.write(text)
    return path


def start_relay(lab, bin_path, directory, index, key, mesh=()):
    os.makedirs(directory, exist_ok=True)
    mesh_line = "mesh = [" + ", ".join(f'"{m}"' for m in mesh) + "]" if mesh else ""
    config = write(os.path.join(directory, "relay.toml"), f"""
[relay]
key_file = "{key}"
listen = ["198.18.0.{10 + index - 1}:{RELAY_PORT}"]
{mesh_line}
[control]
socket = "{directory}/relay.sock"
[logging]
level = "{os.environ.get("NATLAB_LOG_LEVEL", "notice")}"
""")
    stderr = open(os.path.join(directory, "relay.log"), "a")
    child = harness.PROCESSES.spawn(
        lab.exec(f"relay{index}", [os.path.join(bin_path, "ferry-relay"), "--config", config]),
        stdout=subprocess.PIPE, stderr=stderr, text=True)
    line = child.stdout.readline().strip()
    if not line.startswith("relay "):
        raise harness.Failure(f"relay{index} did not start: {harness.tail(stderr.name)}")
    return child, line.split()[1]


def start_ferryd(lab, bin_path, directory, side, key, relays, extra="", path_mode="auto"):
    os.makedirs(directory, exist_ok=True)
    relay_list = ", ".join(f'"{r}"' for r in relays)
    config = write(os.path.join(directory, "ferryd.toml"), f"""
[endpoint]
key_file = "{key}"
listen = ["0.0.0.0:7777"]
relays = [{relay_list}]
path_mode = "{path_mode}"
[control]
socket = "{directory}/ferryd.sock"
[logging]
level = "{os.environ.get("NATLAB_LOG_LEVEL", "notice")}"
{extra}
""")
    stderr = open(os.path.join(directory, "ferryd.log"), "a")
    child = harness.PROCESSES.spawn(
        lab.exec(f"host{side}", [os.path.join(bin_path, "ferryd"), "--config", config]),
        stdout=subprocess.DEVNULL, stderr=stderr)
    return child, os.path.join(directory, "ferryd.sock")


def control(lab, bin_path, side, socket, command):
    result = subprocess.run(
        lab.exec(f"host{side}", [os.path.join(bin_path, "ferry"), command, "--json", "--socket", socket]),
        capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        return None
    try:
        return json.loads(result.stdout).get("result")
    except ValueError:
        return None


def wait_relayed(lab, bin_path, side, socket, transport=None, limit=30.0):
    """Waits (bounded) until ferryd's status shows a ready relay link (over `transport` when given)."""
    deadline = time.monotonic() + limit
    status = None
    while time.monotonic() < deadline:
        status = control(lab, bin_path, side, socket, "status")
        for relay in (status or {}).get("relays") or []:
            if relay.get("ready") and (transport is None or relay.get("transport") == transport):
                return relay
        time.sleep(0.1)  # polling a condition with a deadline, not standing in for synchronisation
    raise harness.Failure(f"ferryd {side} has no ready relay link{' over ' + transport if transport else ''}: {status}")


def transfer(lab, size, rate=0, timeout=180):
    argv = lab.exec("hostA", [sys.executable, LAB_TCP, "send", "9100", str(size)] + ([str(rate)] if rate else []))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    try:
        report = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise harness.Failure(f"transfer produced no report: {result.stderr.strip()[-400:]}")
    if result.returncode != 0:
        raise harness.Failure(f"transfer differs: {report}")
    return report


def two_ferryds(lab, bin_path, workdir, relays_a, relays_b, key_b, extra_a="", path_mode="auto"):
    """ferryd B (service data → echo) and ferryd A (tunnel 127.0.0.1:9100 → B/data by id), both linked."""
    echo = harness.PROCESSES.spawn(lab.exec("hostB", [sys.executable, LAB_TCP, "serve", "9000"]),
                                   stdout=subprocess.PIPE, text=True)
    if echo.stdout.readline().strip() != "listening":
        raise harness.Failure("echo server did not start")
    id_b = keygen_id(bin_path, key_b)
    _, socket_b = start_ferryd(lab, bin_path, os.path.join(workdir, "b"), "B", key_b, relays_b, """
[[services]]
name = "data"
forward = "127.0.0.1:9000"
""", path_mode=path_mode)
    key_a = os.path.join(workdir, "a.key")
    keygen(bin_path, key_a)
    _, socket_a = start_ferryd(lab, bin_path, os.path.join(workdir, "a"), "A", key_a, relays_a, f"""
[[tunnels]]
listen = "127.0.0.1:9100"
peer = "{id_b}"
service = "data"
""" + extra_a, path_mode=path_mode)
    return socket_a, socket_b


def keygen_id(bin_path, key):
    return run([os.path.join(bin_path, "ferry"), "id", "--key", key]).stdout.strip()


def relayed_path(lab, bin_path, socket):
    connections = control(lab, bin_path, "A", socket, "connections") or []
    paths = [c.get("path") for c in connections]
    if not any(p and p.startswith("relayed") for p in paths):
        raise harness.Failure(f"A's tunnel connection is not relayed: {paths}")
    return paths[0]


# ---- cases -----------------------------------------------------------------------------------------------

def one_relay_lab(bin_path, workdir, path_mode="auto", **topology):
    """The lab with relay1, ferryd B (echo service) and ferryd A (tunnel to B by id); returns (lab, relay dir,
    relay key, relay child, socket A, socket B). The caller closes the lab."""
    lab = Lab(workdir)
    try:
        lab.build(**topology)
        relay_key = os.path.join(workdir, "relay1.key")
        keygen(bin_path, relay_key)
        relay_dir = os.path.join(workdir, "relay1")
        child, relay = start_relay(lab, bin_path, relay_dir, 1, relay_key)
        key_b = os.path.join(workdir, "b.key")
        keygen(bin_path, key_b)
        socket_a, socket_b = two_ferryds(lab, bin_path, workdir, [relay], [relay], key_b, path_mode=path_mode)
    except BaseException:
        lab.close()
        raise
    return lab, relay_dir, relay_key, child, socket_a, socket_b


def case_tunnel_by_id(bin_path, workdir):
    lab, _, _, _, socket_a, socket_b = one_relay_lab(bin_path, workdir, path_mode="relay-only")
    try:
        wait_relayed(lab, bin_path, "B", socket_b, "udp")
        link = wait_relayed(lab, bin_path, "A", socket_a, "udp")
        report = transfer(lab, TRANSFER)
        path = relayed_path(lab, bin_path, socket_a)
        remotes = control(lab, bin_path, "A", socket_a, "remotes") or []
        if not any((r.get("path") or "").startswith("relayed") for r in remotes):
            raise harness.Failure(f"ferry remotes does not show the relayed path: {remotes}")
        observed = link.get("observed_address") or "-"
        return f"64 MiB both ways, equal SHA-256, {report['mib_s']} MiB/s, {path}, A seen as {observed}"
    finally:
        lab.close()


def case_udp_blocked(bin_path, workdir):
    lab, _, _, _, socket_a, socket_b = one_relay_lab(bin_path, workdir, udp_blocked_at_a=True)
    try:
        wait_relayed(lab, bin_path, "B", socket_b, "udp")
        wait_relayed(lab, bin_path, "A", socket_a, "tcp")
        report = transfer(lab, TRANSFER)
        path = relayed_path(lab, bin_path, socket_a)  # punching cannot work without UDP: still relayed
        return f"A over TCP: 64 MiB both ways, equal SHA-256, {report['mib_s']} MiB/s, {path}"
    finally:
        lab.close()


def case_mesh(bin_path, workdir):
    lab = Lab(workdir)
    try:
        lab.build(relays=2)
        keys = [os.path.join(workdir, f"relay{i}.key") for i in (1, 2)]
        ids = [keygen(bin_path, key) for key in keys]
        names = [f"{ids[0]}@198.18.0.10:{RELAY_PORT}", f"{ids[1]}@198.18.0.11:{RELAY_PORT}"]
        _, relay1 = start_relay(lab, bin_path, os.path.join(workdir, "relay1"), 1, keys[0], mesh=[names[1]])
        _, relay2 = start_relay(lab, bin_path, os.path.join(workdir, "relay2"), 2, keys[1], mesh=[names[0]])
        key_b = os.path.join(workdir, "b.key")
        keygen(bin_path, key_b)
        socket_a, socket_b = two_ferryds(lab, bin_path, workdir, [relay1], [relay2], key_b, path_mode="relay-only")
        wait_relayed(lab, bin_path, "B", socket_b)
        wait_relayed(lab, bin_path, "A", socket_a)
        wait_mesh(lab, bin_path, workdir)
        report = transfer(lab, 16 << 20)
        return f"A on relay1, B on relay2: 16 MiB both ways, equal SHA-256, {report['mib_s']} MiB/s"
    finally:
        lab.close()


def relay_status(lab, bin_path, relay_dir, index):
    """The relay's status answer (a dict), or None when it did not answer."""
    socket = os.path.join(relay_dir, "relay.sock")
    result = subprocess.run(
        lab.exec(f"relay{index}", [os.path.join(bin_path, "ferry"), "status", "--json", "--socket", socket]),
        capture_output=True, text=True, timeout=10)
    try:
        return json.loads(result.stdout)["result"]
    except (ValueError, KeyError, TypeError):
        return None


def wait_mesh(lab, bin_path, workdir, limit=30.0):
    """Waits until each relay's outgoing mesh link is up (its status says linked)."""
    deadline = time.monotonic() + limit
    states = []
    while time.monotonic() < deadline:
        states = []
        for index in (1, 2):
            status = relay_status(lab, bin_path, os.path.join(workdir, f"relay{index}"), index) or {}
            mesh = status.get("mesh") or []
            states.append(bool(mesh) and all(peer["linked"] for peer in mesh) and status.get("mesh_directory", 0) >= 1)
        if all(states):
            return
        time.sleep(0.1)  # polling a condition with a deadline
    raise harness.Failure(f"mesh links not up: {states}")


def wait_forwarded(lab, bin_path, relay_dir, packets, limit=30.0):
    """Waits until relay1 has forwarded at least `packets` packets."""
    deadline = time.monotonic() + limit
    forwarded = 0
    while time.monotonic() < deadline:
        forwarded = (relay_status(lab, bin_path, relay_dir, 1) or {}).get("packets_forwarded", 0)
        if forwarded >= packets:
            return
        time.sleep(0.05)  # polling a condition with a deadline
    raise harness.Failure(f"the relay forwarded only {forwarded} packets")


def case_relay_restart(bin_path, workdir):
    lab, relay_dir, relay_key, child, socket_a, socket_b = one_relay_lab(bin_path, workdir, path_mode="relay-only")
    try:
        wait_relayed(lab, bin_path, "B", socket_b)
        wait_relayed(lab, bin_path, "A", socket_a)
        size, rate = 24 << 20, 4 << 20  # six seconds of paced traffic
        argv = lab.exec("hostA", [sys.executable, LAB_TCP, "send", "9100", str(size), str(rate)])
        sender = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # Restart once the relay has carried a few MiB of the transfer.
        wait_forwarded(lab, bin_path, relay_dir, packets=3000)
        outage_started = time.monotonic()
        harness.PROCESSES.stop(child)
        child, _ = start_relay(lab, bin_path, relay_dir, 1, relay_key)
        outage = time.monotonic() - outage_started
        out, err = sender.communicate(timeout=180)
        if sender.returncode != 0:
            raise harness.Failure(f"transfer across the restart failed: {out.strip()} {err.strip()[-300:]}")
        report = json.loads(out.strip().splitlines()[-1])
        wait_relayed(lab, bin_path, "A", socket_a)
        return (f"relay restarted mid-transfer (down {outage:.1f}s); 24 MiB both ways, equal SHA-256, "
                f"longest stall {report['max_stall_s']}s")
    finally:
        lab.close()


def selected_path(lab, bin_path, socket):
    connections = control(lab, bin_path, "A", socket, "connections") or []
    return connections[0].get("path") if connections else None


def wait_path(lab, bin_path, socket, direct, limit=15.0):
    """Waits until A's tunnel connection's selected path is direct (or relayed); returns the seconds it took."""
    started = time.monotonic()
    path = None
    while time.monotonic() - started < limit:
        path = selected_path(lab, bin_path, socket)
        if path and (path == "direct") == direct:
            return time.monotonic() - started
        time.sleep(0.05)  # polling a condition with a deadline
    raise harness.Failure(f"A's connection stayed {path!r}, expected {'direct' if direct else 'relayed'}")


def punch_case(expect_direct, transfer_size=TRANSFER, **topology):
    """A matrix row: the tunnel connection starts relayed; it must end direct (or stay relayed), with the
    transfer intact and (when it moves) no stall over a second."""
    def run_case(bin_path, workdir):
        lab, _, _, _, socket_a, socket_b = one_relay_lab(bin_path, workdir, **topology)
        try:
            wait_relayed(lab, bin_path, "B", socket_b, "udp")
            wait_relayed(lab, bin_path, "A", socket_a, "udp")
            report = transfer(lab, transfer_size, rate=24 << 20)
            if expect_direct:
                wait_path(lab, bin_path, socket_a, direct=True)
                if report["max_stall_s"] > 1.0:
                    raise harness.Failure(f"the move stalled the transfer for {report['max_stall_s']} s")
            else:
                relayed_path(lab, bin_path, socket_a)
            path = selected_path(lab, bin_path, socket_a)
            connections = control(lab, bin_path, "A", socket_a, "connections") or [{}]
            after = connections[0].get("direct_after_ms")
            moved = f", direct {after:.0f} ms after the relayed connection was up" if after is not None else ""
            return (f"{transfer_size >> 20} MiB both ways, equal SHA-256, longest stall {report['max_stall_s']}s, "
                    f"ended {path}{moved}")
        finally:
            lab.close()
    return run_case


def case_direct_path_dies(bin_path, workdir):
    """The punched direct path goes dark mid-transfer (natA drops A<->B UDP): back to the relay, data intact."""
    lab, _, _, _, socket_a, socket_b = one_relay_lab(bin_path, workdir)
    try:
        wait_relayed(lab, bin_path, "B", socket_b, "udp")
        wait_relayed(lab, bin_path, "A", socket_a, "udp")
        size, rate = 48 << 20, 8 << 20  # six seconds of paced traffic
        argv = lab.exec("hostA", [sys.executable, LAB_TCP, "send", "9100", str(size), str(rate)])
        sender = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        to_direct = wait_path(lab, bin_path, socket_a, direct=True)
        # Cut the direct path only: UDP between A's and B's public addresses; the relay (198.18.0.10) still works.
        run(lab.exec("natA", ["nft", "insert rule ip lab forward ip daddr 198.18.0.2 udp dport 7777 drop"]))
        run(lab.exec("natA", ["nft", "insert rule ip lab forward ip saddr 198.18.0.2 udp sport 7777 drop"]))
        cut = time.monotonic()
        back = wait_path(lab, bin_path, socket_a, direct=False)
        out, err = sender.communicate(timeout=180)
        if sender.returncode != 0:
            raise harness.Failure(f"transfer across the fallback failed: {out.strip()} {err.strip()[-300:]}")
        report = json.loads(out.strip().splitlines()[-1])
        if report["max_stall_s"] > 2.0:
            raise harness.Failure(f"the fallback stalled the transfer for {report['max_stall_s']} s")
        # The direct route comes back: the client punches again on its own after the retry interval (30 s after
        # the fallback; NATTraversalConfig.retryInterval) and returns to a direct path.
        listing = run(lab.exec("natA", ["nft", "-a", "list", "chain", "ip", "lab", "forward"])).stdout
        for line in listing.splitlines():
            if "7777 drop" in line and "# handle " in line:
                handle = line.rsplit("# handle ", 1)[1].strip()
                run(lab.exec("natA", ["nft", "delete", "rule", "ip", "lab", "forward", "handle", handle]))
        again = wait_path(lab, bin_path, socket_a, direct=True, limit=50.0)
        return (f"direct after {to_direct:.1f}s, relayed again {back:.1f}s after the cut; 48 MiB both ways, "
                f"equal SHA-256, longest stall {report['max_stall_s']}s; direct again {again:.1f}s after the "
                f"route came back ({time.monotonic() - cut:.1f}s after the cut)")
    finally:
        lab.close()


CASES = [
    ("two NATs: tunnel by peer id through the relay (64 MiB)", case_tunnel_by_id),
    ("UDP blocked at A's NAT: TLS-over-TCP fallback (64 MiB)", case_udp_blocked),
    ("relay mesh: A and B homed on different relays", case_mesh),
    ("relay restarted mid-transfer: links come back, TCP stream survives", case_relay_restart),
    ("matrix EIM+APDF x EIM+APDF: relayed, then direct mid-transfer", punch_case(True)),
    ("matrix EIM+EIF x EDM+APDF: direct through a peer-reflexive candidate",
     punch_case(True, mapping={"B": "edm"}, filtering={"A": "eif"})),
    ("matrix EDM+APDF x EDM+APDF: stays relayed", punch_case(False, 16 << 20, mapping={"A": "edm", "B": "edm"})),
    ("matrix same NAT: direct over LAN addresses", punch_case(True, same_lan=True)),
    ("matrix public address x EIM+APDF: direct", punch_case(True, public_a=True)),
    ("matrix EIM+APDF x EDM+APDF: stays relayed", punch_case(False, 16 << 20, mapping={"B": "edm"})),
    ("direct path dropped mid-transfer: back to the relay, data intact", case_direct_path_dies),
]


BENCH_ROWS = [
    ("EIM+APDF x EIM+APDF", {}),
    ("EIM+EIF x EDM+APDF", {"mapping": {"B": "edm"}, "filtering": {"A": "eif"}}),
    ("same NAT", {"same_lan": True}),
    ("public address x EIM+APDF", {"public_a": True}),
]


def bench_punch(bin_path, workdir_root, runs):
    """Time to a direct path per matrix row: `runs` fresh ferryd A processes per row (one lab per row), each
    dialing B by id through the relay; the figure is `direct_after_ms` from A's `ferry connections`."""
    lines = ["| row | median ms | min | max | direct in |", "|---|---|---|---|---|"]
    for label, topology in BENCH_ROWS:
        workdir = os.path.join(workdir_root, "bench_" + label.replace(" ", "_"))
        os.makedirs(workdir, exist_ok=True)
        lab, _, _, _, socket_a, socket_b = one_relay_lab(bin_path, workdir, **topology)
        values = []
        try:
            wait_relayed(lab, bin_path, "B", socket_b, "udp")
            for run_index in range(runs):
                if run_index > 0:
                    # A fresh ferryd A (same key and config) for a fresh connection.
                    a_dir = os.path.join(workdir, "a")
                    for child in list(harness.PROCESSES.children):
                        if child.args[-1] == os.path.join(a_dir, "ferryd.toml"):
                            harness.PROCESSES.stop(child)
                            harness.PROCESSES.children.remove(child)
                    child = harness.PROCESSES.spawn(
                        lab.exec("hostA", [os.path.join(bin_path, "ferryd"), "--config", os.path.join(a_dir, "ferryd.toml")]),
                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(a_dir, "ferryd.log"), "a"))
                wait_relayed(lab, bin_path, "A", socket_a, "udp")
                transfer(lab, 1 << 20)
                wait_path(lab, bin_path, socket_a, direct=True)
                connections = control(lab, bin_path, "A", socket_a, "connections") or [{}]
                values.append(connections[0].get("direct_after_ms"))
        finally:
            lab.close()
        measured = sorted(v for v in values if v is not None)
        median = measured[len(measured) // 2] if measured else float("nan")
        lines.append(f"| {label} | {median:.1f} | {measured[0]:.1f} | {measured[-1]:.1f} | {len(measured)} of {runs} |"
                     if measured else f"| {label} | n/a | | | 0 of {runs} |")
        print(lines[-1], flush=True)
    print("\n".join(lines))
    return 0


def main():
    if "--bench-throughput" in sys.argv:
        position = sys.argv.index("--bench-throughput")
        runs = int(sys.argv[position + 1])
        del sys.argv[position:position + 2]
        args = harness.parse_arguments("Ferry NAT lab: throughput over a punched path against a direct dial")
        import tempfile
        import nat_bench
        workdir = tempfile.mkdtemp(prefix="ferry-natbench-")
        try:
            size = int(os.environ.get("BENCH_DOWNLOAD", 256 << 20))
            return nat_bench.bench_throughput(harness.find_bin_path(args.bin_path), workdir, runs, size)
        finally:
            harness.PROCESSES.kill_all()
            subprocess.run(["rm", "-rf", workdir])
    if "--bench-punch" in sys.argv:
        position = sys.argv.index("--bench-punch")
        runs = int(sys.argv[position + 1])
        del sys.argv[position:position + 2]
        args = harness.parse_arguments("Ferry NAT lab: time to a direct path")
        import tempfile
        workdir = tempfile.mkdtemp(prefix="ferry-natbench-")
        try:
            return bench_punch(harness.find_bin_path(args.bin_path), workdir, runs)
        finally:
            harness.PROCESSES.kill_all()
            subprocess.run(["rm", "-rf", workdir])
    args = harness.parse_arguments("Ferry NAT lab: relays across nftables NATs in network namespaces")
    if os.geteuid() != 0:
        print("FAIL  NAT lab  (needs root for ip netns; CI runs as root)")
        print("0 passed, 1 failed")
        return 1
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            print(f"FAIL  NAT lab  ({tool} is missing; Scripts/setup installs it)")
            print("0 passed, 1 failed")
            return 1
    bin_path = harness.find_bin_path(args.bin_path)
    cases = [(label, (lambda function: lambda _peers, _timeout, workdir_root: function(bin_path, workdir_root))(run))
             for label, run in CASES]

    def with_workdir(label, run):
        def runner(peers, timeout):
            directory = os.path.join(peers.workdir, label.split(":")[0].replace(" ", "_"))
            os.makedirs(directory, exist_ok=True)
            return run(peers, timeout, directory)
        return (label, runner)

    return harness.run_cases([with_workdir(label, run) for label, run in cases], args, "ferry-natlab-")


if __name__ == "__main__":
    sys.exit(main())
