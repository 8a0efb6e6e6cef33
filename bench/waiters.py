#!/usr/bin/env python3
"""Holds N long-poll waiters on USERS users in review and measures what they cost kycgate.

bench/run.sh runs it against a gateway whose simulator ends reviews REVIEW_S seconds after the
trigger:
  waiters.py PORT PID TOKEN N USERS WINDOW_S REVIEW_S [GATEWAY_LOG]
1. puts USERS users in review (consent, details, trigger), noting when each was triggered;
2. opens N connections, each a GET .../verification?wait=300 (the users round-robin), paced so
   that the first reads (ordinary reads) stay under crossmint.max_inflight;
3. once all wait, measures kycgate's CPU (utime + stime of /proc/PID/stat) and RSS over WINDOW_S
   seconds while nothing changes;
4. reads every answer as the reviews end: each must be 200 and verified; prints how far apart a
   user's waiters were answered, and how long after its review ended; with GATEWAY_LOG (kycgate's
   stdout) the same from kycgate's access lines (their time, to the millisecond, is when the
   answer was sent, so the client's own delay reading 10k sockets is left out).
"""
import datetime
import http.client
import json
import os
import selectors
import socket
import sys
import time


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gauge(port, name):
    """The sum of the samples of metric name (its labels any)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    total, seen = 0.0, False
    for line in c.getresponse().read().decode().splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            seen = True
    return total if seen else -1.0


def main():
    port, pid, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    n, users, window, review = (int(a) for a in sys.argv[4:8])
    auth = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    triggered = {}
    for u in range(users):
        loc = f"userId:bench-wait-{u}"
        for method, path, body in (
            ("PUT", f"/v1/users/{loc}/consent",
             {"type": "privacy-policy", "acceptedAt": "2025-06-01T12:00:00Z"}),
            ("PUT", f"/v1/users/{loc}",
             {"userDetails": {"firstName": "A", "lastName": "B", "dateOfBirth": "1990-01-01",
                              "countryOfResidence": "BR"}}),
            ("POST", f"/v1/users/{loc}/verification", None),
        ):
            c.request(method, path, body=json.dumps(body) if body else None, headers=auth)
            r = c.getresponse()
            r.read()
            if r.status != 200:
                sys.exit(f"{method} {path}: {r.status}")
        triggered[u] = time.monotonic()
    rss0, cpu0 = rss_kb(pid), cpu_s(pid)

    sel = selectors.DefaultSelector()
    conns = []
    for i in range(n):
        u = i % users
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall((f"GET /v1/users/userId:bench-wait-{u}/verification?wait=300"
                   f"&products=regulated-transfer HTTP/1.1\r\nHost: bench\r\n"
                   f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n").encode())
        s.setblocking(False)
        conns.append({"u": u, "buf": b"", "at": None})
        sel.register(s, selectors.EVENT_READ, i)
        if i % 200 == 199:
            time.sleep(0.05)
    deadline = time.monotonic() + 60
    while gauge(port, "kycgate_longpoll_waiting") < n and time.monotonic() < deadline:
        time.sleep(0.2)
    waiting = gauge(port, "kycgate_longpoll_waiting")
    time.sleep(1)
    up1 = gauge(port, "kycgate_upstream_requests_total")
    rss1, cpu1, t1 = rss_kb(pid), cpu_s(pid), time.monotonic()
    time.sleep(window)
    cpu2, t2, rss2 = cpu_s(pid), time.monotonic(), rss_kb(pid)
    up2 = gauge(port, "kycgate_upstream_requests_total")
    left_s = review - (time.monotonic() - min(triggered.values()))
    print(f"  {int(waiting)} waiting on {users} users: kycgate CPU "
          f"{100 * (cpu2 - cpu1) / (t2 - t1):.1f}% of a core over {window} s while nothing "
          f"changes; RSS {rss0 / 1024:.1f} MiB before, {max(rss1, rss2) / 1024:.1f} MiB with them "
          f"(+{(max(rss1, rss2) - rss0) / 1024:.1f} MiB; +{(rss1 - rss0) / 1024:.1f} at the window's start, "
          f"+{(rss2 - rss0) / 1024:.1f} at its end); upstream re-reads "
          f"{(up2 - up1) / (t2 - t1):.0f}/s")
    if left_s < 0:
        print("  (the reviews ended before the window closed: raise REVIEW_S)")

    open_ = n
    deadline = time.monotonic() + review + 60
    while open_ > 0 and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            s, i = key.fileobj, key.data
            try:
                got = s.recv(65536)
            except BlockingIOError:
                continue
            if got:
                conns[i]["buf"] += got
                if conns[i]["at"] is None and b"\r\n\r\n" in conns[i]["buf"]:
                    conns[i]["at"] = time.monotonic()
                continue
            sel.unregister(s)
            s.close()
            open_ -= 1
    bad = [c for c in conns if not c["buf"].startswith(b"HTTP/1.1 200")
           or b'"overall":"verified"' not in c["buf"]]
    # The read that settles a user answers all its waiters from one observation, so its first
    # waiter's answer marks (an upper bound of) that read's end; after[] is each waiter's delay
    # from it as this client saw it (reading 10k sockets itself takes part of it).
    spread, lag, after = 0.0, 0.0, []
    for u in range(users):
        times = [c["at"] for c in conns if c["u"] == u and c["at"] is not None]
        if times:
            spread = max(spread, max(times) - min(times))
            lag = max(lag, min(times) - (triggered[u] + review))
            after += [t - min(times) for t in times]
    after.sort()
    p99 = after[int(0.99 * (len(after) - 1))] if after else 0.0
    late = sum(1 for a in after if a > 0.1)
    print(f"  answered {n - open_} of {n}, {len(bad)} not 200 verified; after the read that "
          f"settles its user a waiter was answered within {1000 * p99:.0f} ms (p99), "
          f"{1000 * spread:.0f} ms (worst), {late} later than 100 ms; a user's first answer at "
          f"most {1000 * lag:.0f} ms after its review ended (the re-read backoff, up to 2 s)")

    if len(sys.argv) > 8:
        from_log(sys.argv[8])


def from_log(path):
    """Per user (the access line's keyed hash), how far after its first waiter's answer each
    waiter's answer was sent, from the waiters' access lines (200, verification, long)."""
    sent = {}
    with open(path) as f:
        for line in f:
            if '"event":"request"' not in line or '"status":200' not in line:
                continue
            a = json.loads(line)
            if (a.get("route", "").endswith("/verification") and "user" in a
                    and a.get("duration_ms", 0) > 5000):
                t = datetime.datetime.strptime(a["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()
                sent.setdefault(a["user"], []).append(t)
    after = sorted(t - min(ts) for ts in sent.values() for t in ts)
    if not after:
        print("  (no waiter's access line in the gateway's log)")
        return
    p99 = after[int(0.99 * (len(after) - 1))]
    print(f"  kycgate's access lines: {len(after)} waiters of {len(sent)} users sent within "
          f"{1000 * p99:.0f} ms (p99), {1000 * after[-1]:.0f} ms (worst) of their user's first, "
          f"{sum(1 for a in after if a > 0.1)} later than 100 ms")


if __name__ == "__main__":
    main()
