#!/usr/bin/env python3
"""Example ferryd policy plugin: rejects endpoint ids and IP addresses listed in a file.

Speaks the ferryd plugin protocol v1 (docs/plugins.md): line-delimited JSON on stdin/stdout.
ferryd sends {"type":"hello","version":1,"hook":...} first; we answer {"type":"hello","version":1}.
Then each {"type":"check","id":N,"stage":...} gets {"id":N,"decision":"accept"|"reject","reason":...}.

Usage in ferryd.toml:
    [[hooks]]
    type = "plugin"
    command = ["plugins/deny-list.py", "plugins/deny-list.txt"]
    timeout = "1s"
    on_error = "reject"

The list file holds one endpoint id (64 hex) or IP address per line; '#' starts a comment.
It is re-read whenever it changes, so editing it needs no reload.
"""
import json
import os
import sys


def load(path):
    entries = set()
    try:
        with open(path) as handle:
            for line in handle:
                line = line.split("#", 1)[0].strip()
                if line:
                    entries.add(line.lower())
    except OSError as error:
        print(f"deny-list: cannot read {path}: {error}", file=sys.stderr)
    return entries


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "deny-list.txt")
    denied, stamp = set(), None
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("type") == "hello":
            if message.get("version") != 1:
                print(f"deny-list: unsupported protocol version {message.get('version')}", file=sys.stderr)
                return 1
            print(json.dumps({"type": "hello", "version": 1}), flush=True)
            continue
        if message.get("type") != "check":
            continue
        try:
            current = os.stat(path).st_mtime
        except OSError:
            current = None
        if current != stamp:
            denied, stamp = load(path), current
        remote_id = (message.get("remote_id") or "").lower()
        address = (message.get("remote_address") or "").lower()
        if remote_id and remote_id in denied:
            answer = {"id": message["id"], "decision": "reject", "reason": "endpoint is on the deny list"}
        elif address and address in denied:
            answer = {"id": message["id"], "decision": "reject", "reason": "address is on the deny list"}
        else:
            answer = {"id": message["id"], "decision": "accept"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
