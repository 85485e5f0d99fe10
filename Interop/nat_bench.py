"""Throughput over a punched path against a direct dial, in the NAT lab (docs/benchmarks.md, "NAT traversal").

The lab's "public address x EIM+APDF" row: host A has a public address on the lab's internet (198.18.0.1), host B
sits behind an nftables NAT, a ferry-relay sits on the internet. A ferry-bench server runs on A, linked to the
relay. From B, alternating `runs` times:
  - direct: `ferry-bench client --connect ID@198.18.0.1:PORT` (a plain dial; B's NAT lets the answers in);
  - punched: `ferry-bench client --connect ID --relay RELAY` (path mode auto: the connection is made through the
    relay and moves to a direct path by hole punching, within milliseconds here).
Each downloads `size` bytes on one stream. Prints each run, then a Markdown row with the medians and their ratio
(the target is a ratio of at least 0.9). The same machine runs all of it, so run it on a quiet machine; the load
average is printed before and after.
"""

import json
import os
import subprocess

import harness
import nat_lab

BENCH_PORT = 7790


def load_average():
    with open("/proc/loadavg") as handle:
        return " ".join(handle.read().split()[:3])


def bench_throughput(bin_path, workdir, runs, size):
    lab = nat_lab.Lab(workdir)
    try:
        lab.build(public_a=True)
        relay_key = os.path.join(workdir, "relay1.key")
        nat_lab.keygen(bin_path, relay_key)
        _, relay = nat_lab.start_relay(lab, bin_path, os.path.join(workdir, "relay1"), 1, relay_key)
        server_key = os.path.join(workdir, "server.key")
        server_id = nat_lab.keygen(bin_path, server_key)
        bench = os.path.join(bin_path, "ferry-bench")
        server = harness.PROCESSES.spawn(
            lab.exec("hostA", [bench, "server", "--listen", f"0.0.0.0:{BENCH_PORT}", "--key", server_key,
                               "--relay", relay]),
            stdout=subprocess.PIPE, stderr=open(os.path.join(workdir, "server.log"), "a"), text=True)
        line = server.stdout.readline().strip()
        if not line.startswith("listening "):
            raise harness.Failure(f"ferry-bench server did not start: {harness.tail(os.path.join(workdir, 'server.log'))}")
        targets = {
            "direct": ["--connect", f"{server_id}@198.18.0.1:{BENCH_PORT}"],
            "punched": ["--connect", server_id, "--relay", relay],
        }
        results = {name: [] for name in targets}
        print(f"load before: {load_average()}", flush=True)
        for run_index in range(runs):
            for name, target in targets.items():
                argv = lab.exec("hostB", [bench, "client", *target, "--download", str(size), "--streams", "1",
                                          "--requests", "1"])
                out = nat_lab.run(argv, timeout=300).stdout.strip().splitlines()[-1]
                results[name].append(json.loads(out)["download_mib_s"])
            print(f"run {run_index + 1}: direct {results['direct'][-1]:.1f} MiB/s, "
                  f"punched {results['punched'][-1]:.1f} MiB/s", flush=True)
        print(f"load after: {load_average()}", flush=True)
    finally:
        lab.close()
    direct = sorted(results["direct"])[len(results["direct"]) // 2]
    punched = sorted(results["punched"])[len(results["punched"]) // 2]
    print("| row | direct dial MiB/s | punched MiB/s | punched / direct |")
    print("|---|---|---|---|")
    print(f"| public address x EIM+APDF, {size >> 20} MiB download, median of {runs} | {direct:.1f} | {punched:.1f} "
          f"| {punched / direct:.2f} |")
    return 0
