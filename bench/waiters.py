#!/usr/bin/env python3
"""Holds N long-poll waiters on USERS users in review and measures what they cost kycgate.

bench/run.sh runs it against a gateway whose simulator ends reviews REVIEW_S seconds after the
trigger:
  waiters.py PORT PID TOKEN N USERS WINDOW_S REVIEW_S [GATEWAY_LOG [SIM_PID]]
1. puts USERS users in review (consent, details, trigger), noting when each was triggered;
2. opens N connections, each a GET .../verification?wait=300 (the users round-robin), paced so
   that the first reads (ordinary reads) stay under crossmint.max_inflight;
3. once all wait, measures kycgate's CPU (utime + stime of /proc/PID/stat) and RSS over WINDOW_S
   seconds while nothing changes;
4. reads every answer as the reviews end: each must be 200 and verified; prints how far apart a
   user's waiters were answered, and how long after its review ended; with GATEWAY_LOG (kycgate's
   stdout) the same from kycgate's access lines (their time, to the millisecond, is when the
   answer was sent, so the client's own delay reading 10k sockets is left out).
A run in which a waiter was not answered `verified`, or had its answer before the window closed,
measured nothing about waiting: it prints FAILED, what the waiters got and what the gateway's log,
metrics and processes say about why (a failed re-read or an open circuit breaker answers every
waiter of its user with its latest state, in-review; so does a gateway that is stopped), and exits
1. Its figures are not to be averaged in.
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
    if waiting < n:
        print(f"  only {int(waiting)} of {n} waiting after 60 s (503s past the limits?)")
    time.sleep(1)
    up1 = gauge(port, "kycgate_upstream_requests_total")
    rss1, cpu1, t1 = rss_kb(pid), cpu_s(pid), time.monotonic()
    time.sleep(window)
    cpu2, t2, rss2 = cpu_s(pid), time.monotonic(), rss_kb(pid)
    up2 = gauge(port, "kycgate_upstream_requests_total")
    still = gauge(port, "kycgate_longpoll_waiting")
    left_s = review - (time.monotonic() - min(triggered.values()))
    print(f"  {int(waiting)} waiting on {users} users: kycgate CPU "
          f"{100 * (cpu2 - cpu1) / (t2 - t1):.1f}% of a core over {window} s while nothing "
          f"changes; RSS {rss0 / 1024:.1f} MiB before, {max(rss1, rss2) / 1024:.1f} MiB with them "
          f"(+{(max(rss1, rss2) - rss0) / 1024:.1f} MiB; +{(rss1 - rss0) / 1024:.1f} at the window's start, "
          f"+{(rss2 - rss0) / 1024:.1f} at its end); upstream re-reads "
          f"{(up2 - up1) / (t2 - t1):.0f}/s")
    if left_s < 0:
        print("  (the reviews ended before the window closed: raise REVIEW_S)")
    window_ok = still >= n

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
    kinds = {}
    for c in conns:
        c["kind"] = answer_kind(c["buf"])
        kinds[c["kind"]] = kinds.get(c["kind"], 0) + 1
    bad = [c for c in conns if c["kind"] != "200 verified"]
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

    log = sys.argv[8] if len(sys.argv) > 8 else None
    if log:
        from_log(log)
    if bad or not window_ok:
        early = sorted(c["at"] - (triggered[c["u"]] + review) for c in bad if c["at"] is not None)
        print(f"  FAILED: {len(bad)} of {n} waiters were not answered verified ("
              + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) + ")"
              + (f", answered {-early[-1]:.1f} to {-early[0]:.1f} s before their review ended"
                 if early and early[-1] < 0 else "")
              + ("" if window_ok else f"; {n - int(still)} were answered before the window "
                 "closed, so its CPU and RSS are not those of waiters waiting")
              + ": this run measured nothing about waiting; do not average it in")
        diagnose(port, pid, int(sys.argv[9]) if len(sys.argv) > 9 else 0, log)
        sys.exit(1)


def answer_kind(buf):
    """'200 verified', '200 in-review', '503', 'none' (no answer), ... from a raw answer."""
    if not buf:
        return "none"
    head, _, body = buf.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1].decode() if head.count(b" ") >= 1 else "?"
    try:
        overall = json.loads(body).get("overall")
    except (ValueError, AttributeError):
        overall = None
    return f"{status} {overall}" if overall else status


def alive(pid):
    """The process runs (a zombie, exited but not yet reaped by bench/run.sh, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def diagnose(port, pid, sim_pid, log):
    """Why waiters were answered early, from what kycgate and the simulator left: each way
    kycgate answers a waiter before its user settles leaves its own trace."""
    lines = None
    if alive(pid):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/metrics")
            lines = c.getresponse().read().decode().splitlines()
        except OSError:
            pass
    state = "runs" if lines is not None else "stops (no /metrics)" if alive(pid) else "is gone"
    print(f"  kycgate (pid {pid}) {state}"
          + (f"; the simulator (pid {sim_pid}) {'runs' if alive(sim_pid) else 'is gone'}"
             if sim_pid else ""))
    if lines is not None:
        errs = [ln for ln in lines if ln.startswith("kycgate_upstream_errors_total{")
                and not ln.endswith(" 0")]
        brk = [ln for ln in lines if ln.startswith("kycgate_circuit_breaker_state")]
        print("  upstream errors: " + (", ".join(errs) if errs else "none") + "; "
              + (brk[0] if brk else "no breaker gauge"))
    if not log:
        return
    events, groups = {}, {}
    with open(log) as f:
        for line in f:
            try:
                a = json.loads(line)
            except ValueError:
                continue
            ev = a.get("event")
            if ev == "request":
                if a.get("route", "").endswith("/verification") and a.get("method") == "GET":
                    k = (a.get("status"), a.get("upstream_status"), a.get("attempts"))
                    groups[k] = groups.get(k, 0) + 1
            elif a.get("level") in ("warn", "error") or ev in ("draining", "quiesced", "stopped"):
                k = f"{ev} {a.get('state', '')}".strip()
                events[k] = events.get(k, 0) + 1
    # A waiter's access line carries the outcome of the read that ended its wait: upstream
    # status 0 with attempts is a re-read that failed (connect, timeout, reset), attempts 0 a
    # re-read the open breaker refused or a stop (no read at all).
    print("  kycgate's log: " + (", ".join(f"{k} x{v}" for k, v in sorted(events.items()))
                                 or "no warning, breaker or stop line"))
    print("  waiters' access lines (status, upstream_status, attempts): "
          + ", ".join(f"{k} x{v}" for k, v in sorted(groups.items(), key=lambda kv: -kv[1])[:6]))


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
