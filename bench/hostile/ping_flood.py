#!/usr/bin/env python3
"""Ping flood from a client that never reads (issue 15, item 1): how much the gateway takes,
its RSS before and after, and whether the socket is still open 25 s later.

    scgate serve --port 8000 --workers 1 --plugins-dir "" &
    python3 bench/hostile/ping_flood.py 8000 $! 60      # PORT PID MEGABYTES
"""
import socket
import sys
import time

port, pid, megabytes = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])


def rss_mb():
    status = open(f"/proc/{pid}/status").read()
    return int(status.split("VmRSS:")[1].split()[0]) // 1024


def frame(b0, payload):
    mask = b"\x01\x02\x03\x04"
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([b0, 0x80 | len(payload)]) + mask + masked


s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /socketcluster/ HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
          b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          b"Sec-WebSocket-Version: 13\r\n\r\n")
time.sleep(0.2)
s.recv(4096)
s.sendall(frame(0x81, b'{"event":"#handshake","data":{},"cid":1}'))
time.sleep(0.5)
before = rss_mb()
batch = frame(0x89, b"U" * 125) * 8000  # about 1 MB of pings per write
s.settimeout(5)
sent = 0
try:
    while sent < megabytes * 1024 * 1024:
        s.sendall(batch)
        sent += len(batch)
except socket.timeout:
    pass  # the gateway stopped reading
time.sleep(1)
print(f"pings taken: {sent / 1048576:.0f} MB; RSS {before} -> {rss_mb()} MB", flush=True)
time.sleep(25)
s.setblocking(False)
try:
    s.send(frame(0x89, b"?"))
    print(f"socket still open after 25 s; RSS {rss_mb()} MB")
except OSError as e:
    print(f"socket closed by then ({e}); RSS {rss_mb()} MB")
