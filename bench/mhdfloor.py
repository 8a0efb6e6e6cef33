#!/usr/bin/env python3
"""mhdfloor.py PORT PID N: opens N connections to bench/mhdfloor.c, each sending bench/waiters.py's
request, and prints how much the server's RSS grew (what libmicrohttpd alone costs a waiter)."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from waiters import rss_kb  # noqa: E402


def main():
    port, pid, n = (int(a) for a in sys.argv[1:4])
    token = "bench-token-0123456789abcdef-0123456"
    time.sleep(0.5)
    rss0, conns = rss_kb(pid), []
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall((f"GET /v1/users/userId:bench-wait-{i % 500}/verification?wait=300"
                   f"&products=regulated-transfer HTTP/1.1\r\nHost: bench\r\n"
                   f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode())
        conns.append(s)
        if i % 200 == 199:
            time.sleep(0.05)
    time.sleep(2)
    rss1 = rss_kb(pid)
    print(f"{n} suspended connections: +{(rss1 - rss0) / 1024:.1f} MiB "
          f"({(rss1 - rss0) * 1024 / n:.0f} bytes each)")


if __name__ == "__main__":
    main()
