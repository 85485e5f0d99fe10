#!/usr/bin/env python3
"""Negative interop check: an aioquic client WITHOUT a client certificate must be refused by a perf server.

Connects with ALPN "perf", presents no certificate, and sends one small request. Passes (exit 0) when the server
closes the connection with a TLS alert (a CRYPTO_ERROR, RFC 9001 §4.8: 0x100 + alert; certificate_required is
0x174); fails (exit 1) if the request is served or the connection ends any other way. Prints one JSON line.
"""
import argparse
import asyncio
import json
import sys

from probe import client_configuration, request_once


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connect", required=True, help="ID@HOST:PORT (the id is not checked)")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    configuration = client_configuration()
    result = {"refused": False, "error_code": None, "reason": ""}
    try:
        kind, code, reason = await request_once(args.connect, configuration, args.timeout)
        result.update(error_code=code, reason=reason)
        result["refused"] = kind == "closed" and code is not None and 0x100 <= code <= 0x1FF
    except ConnectionError as error:
        # The handshake itself failed: aioquic reports the close reason in the exception.
        result.update(refused=True, reason=f"handshake refused: {error!r}")
    except asyncio.TimeoutError:
        result["reason"] = f"no outcome within {args.timeout}s"
    print(json.dumps(result))
    return 0 if result["refused"] else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
