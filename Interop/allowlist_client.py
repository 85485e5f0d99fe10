#!/usr/bin/env python3
"""Hook interop check: an aioquic client WITH a client certificate against a server running an allowlist hook.

Connects with ALPN "perf" and the given certificate, sends one perf request (8-byte size 1, FIN) and waits for
the outcome. Prints one JSON line: {"outcome": "served"|"closed"|"timeout"|"handshake_failed", "error_code",
"reason"}. With --expect-code C it exits 0 only when the server closed the connection with application error
code C (the allowlist hook's rejection, RFC 9000 §19.19); with --expect-served it exits 0 only when the request
was answered. Used by Interop/run_interop.py (allowlist cases).
"""
import argparse
import asyncio
import json
import sys

from probe import client_configuration, request_once


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", required=True, help="ID@HOST:PORT (the id is not checked)")
    parser.add_argument("--key", required=True, help="PKCS#8 PEM Ed25519 key")
    parser.add_argument("--cert", required=True, help="PEM certificate for the key")
    parser.add_argument("--timeout", type=float, default=10.0)
    expectation = parser.add_mutually_exclusive_group(required=True)
    expectation.add_argument("--expect-code", type=lambda text: int(text, 0))
    expectation.add_argument("--expect-served", action="store_true")
    args = parser.parse_args()
    configuration = client_configuration()
    configuration.load_cert_chain(args.cert, args.key)
    result = {"outcome": "timeout", "error_code": None, "reason": ""}
    try:
        kind, code, reason = await request_once(args.connect, configuration, args.timeout)
        result.update(outcome=kind, error_code=code, reason=reason)
    except ConnectionError as error:
        result.update(outcome="handshake_failed", reason=repr(error))
    except asyncio.TimeoutError:
        result["reason"] = f"no outcome within {args.timeout}s"
    print(json.dumps(result))
    if args.expect_served:
        return 0 if result["outcome"] == "served" else 1
    return 0 if result["outcome"] == "closed" and result["error_code"] == args.expect_code else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
