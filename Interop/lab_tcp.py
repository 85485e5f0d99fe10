"""TCP endpoints for the NAT lab (Interop/nat_lab.py): an echo server and a client that checks what comes back.

    lab_tcp.py serve PORT                 echo every connection on 127.0.0.1:PORT; on EOF finish the echo
    lab_tcp.py send PORT BYTES [RATE]     send BYTES pseudo-random bytes (RATE bytes/s if given) to 127.0.0.1:PORT,
                                          read the echo, print one JSON line: sizes, SHA-256 both ways, longest stall

Both directions run at once, so the data passes through the tunnel both ways. The client exits non-zero when the
echo differs from what it sent.
"""
import hashlib
import json
import socket
import sys
import threading
import time

CHUNK = 64 * 1024


def serve(port):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    print("listening", flush=True)
    while True:
        connection, _ = listener.accept()
        threading.Thread(target=echo, args=(connection,), daemon=True).start()


def echo(connection):
    with connection:
        while True:
            data = connection.recv(CHUNK)
            if not data:
                break
            connection.sendall(data)
        connection.shutdown(socket.SHUT_WR)


def pattern(total):
    """Deterministic pseudo-random bytes (a SHA-256 chain), so a corrupted byte anywhere changes the digest."""
    block = hashlib.sha256(b"ferry-nat-lab").digest() * (CHUNK // 32)
    sent = 0
    counter = 0
    while sent < total:
        counter += 1
        salt = counter.to_bytes(8, "big")
        chunk = bytes(a ^ b for a, b in zip(block[:64], salt * 8)) + block[64:]
        chunk = chunk[: total - sent]
        sent += len(chunk)
        yield chunk


def send(port, total, rate):
    connection = socket.create_connection(("127.0.0.1", port), timeout=120)
    connection.settimeout(120)
    sent_digest = hashlib.sha256()
    received_digest = hashlib.sha256()
    received = [0]
    stall = [0.0]

    def reader():
        last = time.monotonic()
        while True:
            data = connection.recv(CHUNK)
            now = time.monotonic()
            if data:
                stall[0] = max(stall[0], now - last)
                last = now
            if not data:
                break
            received_digest.update(data)
            received[0] += len(data)

    thread = threading.Thread(target=reader)
    thread.start()
    started = time.monotonic()
    written = 0
    for chunk in pattern(total):
        sent_digest.update(chunk)
        connection.sendall(chunk)
        written += len(chunk)
        if rate:
            ahead = written / rate - (time.monotonic() - started)
            if ahead > 0:
                time.sleep(ahead)  # pacing the sender to a rate, not synchronisation
    connection.shutdown(socket.SHUT_WR)
    thread.join(timeout=180)
    elapsed = time.monotonic() - started
    report = {
        "sent": written, "received": received[0], "sent_sha256": sent_digest.hexdigest(),
        "received_sha256": received_digest.hexdigest(), "max_stall_s": round(stall[0], 3),
        "seconds": round(elapsed, 3), "mib_s": round(2 * written / elapsed / (1 << 20), 1),
    }
    print(json.dumps(report), flush=True)
    ok = written == received[0] == total and report["sent_sha256"] == report["received_sha256"]
    return 0 if ok else 1


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "serve":
        serve(int(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == "send":
        rate = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
        sys.exit(send(int(sys.argv[2]), int(sys.argv[3]), rate))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
