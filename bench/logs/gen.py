#!/usr/bin/env python3
"""A week of a school's Squid access log in Squid's native format, for bench/logs/run.

    gen.py LINES USERS OUT [--lists DIR]

USERS people (proxy users user0001@bench.sch.uk …, each on their own address
10.10.x.y) browse over five school days (07:30 to 16:30 UK time, 23 to 27 November 2026).
Most requests go to everyday sites; about 3% go to domains of the filter lists'
categories (examples/lists by default) and are logged denied (TCP_DENIED/403), as the
helper would have them. Deterministic: the same arguments give the same file.
"""
import os
import random
import sys

ROUTINE = [
    "www.bbc.co.uk", "www.google.com", "www.youtube.com", "classroom.google.com",
    "login.microsoftonline.com", "outlook.office365.com", "www.gov.uk", "www.wikipedia.org",
    "www.tes.com", "www.twinkl.co.uk", "www.oak.org.uk", "www.mathsisfun.com",
    "www.theguardian.com", "www.amazon.co.uk", "www.met-office.gov.uk", "fonts.gstatic.com",
    "ajax.googleapis.com", "cdn.jsdelivr.net", "www.seesaw.me", "app.arbor.sc",
]
TYPES = ["text/html", "image/png", "application/javascript", "text/css", "image/jpeg", "application/json"]


def listed(lists_dir):
    out = []
    for category in sorted(os.listdir(lists_dir)):
        path = os.path.join(lists_dir, category, "domains")
        if os.path.exists(path):
            with open(path) as f:
                out += [line.strip() for line in f if line.strip() and not line.startswith("#")]
    return out


def main():
    lines, users, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    lists_dir = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--lists" else os.path.join(
        os.path.dirname(__file__), "..", "..", "examples", "lists")
    blocked = listed(lists_dir)
    rnd = random.Random(20261123)
    # 23 November 2026 07:30 GMT as seconds; five days, nine hours each.
    start = 1795419000
    span = 9 * 3600
    per_day = lines // 5
    paths = ["/", "/news", "/search?q=fractions", "/assets/app.js", "/img/logo.png", "/lesson/12", "/api/v1/feed"]
    with open(out, "w", buffering=1 << 20) as f:
        write = f.write
        n = 0
        for day in range(5):
            base = start + day * 86400
            count = per_day if day < 4 else lines - 4 * per_day
            step = span / count
            t = float(base)
            for _ in range(count):
                t += step
                u = rnd.randrange(users)
                ip = f"10.10.{u // 250}.{u % 250 + 1}"
                if rnd.random() < 0.03 and blocked:
                    host = rnd.choice(blocked)
                    result, size = "TCP_DENIED/403", 3900
                    peer = "HIER_NONE/-"
                else:
                    host = rnd.choice(ROUTINE)
                    result, size = "TCP_MISS/200", rnd.randrange(200, 200000)
                    peer = "HIER_DIRECT/192.0.2.1"
                if rnd.random() < 0.4:
                    method, url = "CONNECT", f"{host}:443"
                else:
                    method, url = "GET", f"http://{host}{rnd.choice(paths)}"
                write(f"{t:.3f} {rnd.randrange(1, 900):6d} {ip} {result} {size} {method} {url} user{u + 1:04d}@bench.sch.uk {peer} {rnd.choice(TYPES)}\n")
                n += 1
    print(n, file=sys.stderr)


if __name__ == "__main__":
    main()
