#!/usr/bin/env python3
"""Checks proxy.py against a fast in-process upstream, then measures its throughput.

Correctness: GET, ranged GET, HEAD, PUT (Content-Length, chunked, Expect: 100-continue),
keep-alive reuse, per-kind counters, injected 503s and truncated bodies, bandwidth cap.
Speed: one 1 GiB GET direct vs through the proxy (the upstream serves it with sendfile
from a file in /dev/shm, so the upstream is not the limit). Exits non-zero on failure.

Usage: /usr/bin/python3 scripts/bench/proxy_selftest.py [--size-mib 1024]
"""

import argparse
import http.client
import json
import os
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxy  # noqa: E402


class Upstream:
    """Minimal keep-alive HTTP server: GET/HEAD serve one file (Range aware), PUT echoes length."""

    def __init__(self, path):
        self.path = path
        self.size = os.path.getsize(path)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.seen_hosts = []
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            c, _ = self.sock.accept()
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        conn = proxy.Conn(c)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            while True:
                head = conn.read_head()
                if not head:
                    return
                first, h = proxy.parse_head(head)
                method = first.split(" ")[0]
                self.seen_hosts.append(h.get("host"))
                if method == "PUT":
                    if "100-continue" in h.get("expect", ""):
                        c.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                    n = self.read_body(conn, h)
                    body = json.dumps({"received": n}).encode()
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
                    continue
                start, end = 0, self.size - 1
                code = b"200 OK"
                if "range" in h:
                    a, b = h["range"].split("=")[1].split("-")
                    start, end = int(a), min(int(b), self.size - 1)
                    code = b"206 Partial Content"
                n = end - start + 1
                c.sendall(b"HTTP/1.1 %s\r\nContent-Length: %d\r\nETag: \"x\"\r\n\r\n" % (code, n))
                if method == "GET":
                    off = start
                    while off <= end:
                        off += os.sendfile(c.fileno(), fd, off, end + 1 - off)
        except (OSError, proxy.ProxyError):
            pass
        finally:
            os.close(fd)
            c.close()

    @staticmethod
    def read_body(conn, h):
        if proxy.body_length(h) == "chunked":
            total = 0
            while True:
                size = int(conn.read_line().split(b";")[0], 16)
                if size == 0:
                    conn.read_line()
                    return total
                while len(conn.buf) < size + 2:
                    conn.buf += conn.sock.recv(65536)
                del conn.buf[: size + 2]
                total += size
        n = int(h.get("content-length", 0))
        while len(conn.buf) < n:
            conn.buf += conn.sock.recv(1 << 20)
        del conn.buf[:n]
        return n


def start_proxy(upstream_port, **shaping):
    shaper = proxy.Shaper(
        shaping.get("latency_ms", 0),
        shaping.get("bandwidth_mbps", 0),
        shaping.get("error_rate", 0),
        shaping.get("truncate_rate", 0),
        seed=1,
    )
    srv = proxy.ProxyServer(("127.0.0.1", 0), ("127.0.0.1", upstream_port), shaper)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def timed_get(port, path="/bucket/key", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port)
    t = time.monotonic()
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    n = 0
    buf = bytearray(1 << 20)
    while True:
        got = r.readinto(buf)
        if not got:
            break
        n += got
    c.close()
    return n, time.monotonic() - t, r.status


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        check.failed = True


check.failed = False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    args = ap.parse_args()
    d = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    path = os.path.join(d, "blob")
    with open(path, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(args.size_mib):
            f.write(chunk)
    try:
        run(path, args.size_mib << 20)
    finally:
        os.unlink(path)
        os.rmdir(d)
    sys.exit(1 if check.failed else 0)


def run(path, size):
    up = Upstream(path)
    srv = start_proxy(up.port)
    p = srv.port
    with open(path, "rb") as f:
        f.seek(1000)
        want = f.read(5000)

    c = http.client.HTTPConnection("127.0.0.1", p)
    c.request("GET", "/bucket/key", headers={"Range": "bytes=1000-5999"})
    r = c.getresponse()
    check(r.status == 206 and r.read() == want, "ranged GET returns the right bytes")
    c.request("HEAD", "/bucket/key")
    r = c.getresponse()
    r.read()
    check(r.getheader("Content-Length") == str(size), "HEAD passes Content-Length")
    c.request("PUT", "/bucket/up", body=b"x" * 300000)
    check(json.loads(c.getresponse().read())["received"] == 300000, "PUT with Content-Length")
    c.request("PUT", "/bucket/up2", body=iter([b"a" * 1000, b"b" * 70000]),
              encode_chunked=True)
    check(json.loads(c.getresponse().read())["received"] == 71000, "PUT chunked")
    c.request("PUT", "/bucket/up3", body=b"y" * 5000, headers={"Expect": "100-continue"})
    check(json.loads(c.getresponse().read())["received"] == 5000, "PUT Expect: 100-continue")
    c.request("GET", "/bucket?list-type=2&prefix=a/")
    c.getresponse().read()
    c.request("GET", "/__proxy/stats")
    st = json.loads(c.getresponse().read())
    c.close()
    check(st["requests"] == {"GET": 0, "GET_RANGE": 1, "HEAD": 1, "LIST": 1, "PUT": 3,
                             "OTHER": 0}, "counts by kind: %s" % st["requests"])
    check(st["bytes_out"]["GET_RANGE"] == 5000, "ranged GET bytes counted")
    check(st["bytes_in"]["PUT"] == 376000, "PUT bytes counted (%d)" % st["bytes_in"]["PUT"])
    check(up.seen_hosts[0] == "127.0.0.1:%d" % p, "Host header forwarded unchanged")

    # Throughput direct vs proxied (one stream), then four streams through the proxy.
    for _ in range(2):  # warm the page cache of the source file
        timed_get(up.port)
    n, t_direct, _ = timed_get(up.port)
    n2, t_proxy, _ = timed_get(p)
    check(n == n2 == size, "full GET through proxy moves every byte")
    print("     direct %.0f MB/s, via proxy %.0f MB/s (one stream)" % (n / t_direct / 1e6,
                                                                        n2 / t_proxy / 1e6))
    check(n2 / t_proxy > 1e9 or n2 / t_proxy > 0.6 * n / t_direct,
          "proxy > 1 GB/s or within 60% of direct")

    # Shaping and faults, each on its own proxy.
    capped = start_proxy(up.port, bandwidth_mbps=100)
    n, t, _ = timed_get(capped.port, headers={"Range": "bytes=0-%d" % (50 * 1000 * 1000 - 1)})
    check(0.85 < (n / t / 1e6) / 100 < 1.1, "100 MB/s cap gives %.1f MB/s" % (n / t / 1e6))
    slow = start_proxy(up.port, latency_ms=50)
    _, t, _ = timed_get(slow.port, headers={"Range": "bytes=0-0"})
    check(0.05 <= t < 0.2, "50 ms latency adds %.0f ms" % (t * 1000))
    bad = start_proxy(up.port, error_rate=1.0)
    _, _, status = timed_get(bad.port, headers={"Range": "bytes=0-9"})
    check(status == 503, "error-rate 1 answers 503")
    cut = start_proxy(up.port, truncate_rate=1.0)
    c = http.client.HTTPConnection("127.0.0.1", cut.port)
    c.request("GET", "/bucket/key", headers={"Range": "bytes=0-99999"})
    try:
        c.getresponse().read()
        got_short = False
    except http.client.IncompleteRead as e:
        got_short = len(e.partial) == 50000
    check(got_short, "truncate-rate 1 cuts the body at half and closes")
    c = http.client.HTTPConnection("127.0.0.1", slow.port)
    c.request("POST", "/__proxy/config", body=json.dumps({"latency_ms": 0}))
    check(json.loads(c.getresponse().read())["latency_ms"] == 0, "config endpoint")
    c.request("POST", "/__proxy/reset")
    c.getresponse().read()
    c.request("GET", "/__proxy/stats")
    check(json.loads(c.getresponse().read())["total_requests"] == 0, "reset endpoint")


if __name__ == "__main__":
    main()
