#!/usr/bin/env python3
"""Shaping, counting HTTP/1.1 reverse proxy for S3 benchmarks and fault tests.

Listens on 127.0.0.1:PORT and forwards every request, byte for byte, to an upstream
S3 server (normally s3rver). The request head is forwarded unchanged -- including the
Host header -- so SigV4 signatures made for the proxy's host:port still verify upstream.

Shaping:   --latency-ms adds a delay before each request is forwarded (one "RTT");
           --bandwidth-mbps caps response+request body throughput, in MB/s (10^6 bytes),
           shared by all connections through one token bucket.
Counting:  requests and body bytes by kind (GET, GET_RANGE, HEAD, LIST, PUT, OTHER).
Faults:    --error-rate answers that fraction of requests with 503 SlowDown;
           --truncate-rate cuts that fraction of GET bodies in half and closes the connection.
Control:   GET /__proxy/stats (JSON), POST /__proxy/reset, POST /__proxy/config with a JSON
           body of {latency_ms, bandwidth_mbps, error_rate, truncate_rate} (any subset).
           ("__proxy" is not a valid bucket name, so these never shadow S3 paths.)

Design: one thread per client connection with its own keep-alive upstream connection;
bodies move socket -> pipe -> socket with splice(2), so data never enters Python and the
proxy is not the bottleneck (well above 1 GB/s on one core).
"""

import argparse
import fcntl
import json
import os
import random
import signal
import socket
import sys
import threading
import time

CHUNK = 1 << 20  # splice/relay granularity and pipe size
# No SPLICE_F_MORE: like MSG_MORE it can hold back the tail of a response.
SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 1)
MAX_HEAD = 64 << 10
KINDS = ("GET", "GET_RANGE", "HEAD", "LIST", "PUT", "OTHER")


class ProxyError(Exception):
    pass


class Shaper:
    """Latency, bandwidth token bucket and fault knobs; thread-safe, shared by all handlers."""

    def __init__(self, latency_ms, bandwidth_mbps, error_rate, truncate_rate, seed):
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self.configure(
            latency_ms=latency_ms,
            bandwidth_mbps=bandwidth_mbps,
            error_rate=error_rate,
            truncate_rate=truncate_rate,
        )

    def configure(self, **kw):
        with self._lock:
            if "latency_ms" in kw:
                self.latency_s = max(0.0, float(kw["latency_ms"])) / 1000.0
            if "bandwidth_mbps" in kw:
                self.rate = max(0.0, float(kw["bandwidth_mbps"])) * 1e6
                # Burst of 20 ms of traffic (at least one chunk) keeps the cap smooth.
                self.burst = max(CHUNK, self.rate * 0.02)
                self.tokens = self.burst
                self.last = time.monotonic()
            if "error_rate" in kw:
                self.error_rate = float(kw["error_rate"])
            if "truncate_rate" in kw:
                self.truncate_rate = float(kw["truncate_rate"])

    def config(self):
        with self._lock:
            return {
                "latency_ms": self.latency_s * 1000.0,
                "bandwidth_mbps": self.rate / 1e6,
                "error_rate": self.error_rate,
                "truncate_rate": self.truncate_rate,
            }

    def chance(self, rate):
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def delay(self):
        if self.latency_s > 0:
            time.sleep(self.latency_s)

    def consume(self, n):
        """Take n bytes from the shared bucket; sleeps off any debt (the debt is shared)."""
        if self.rate <= 0:
            return
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            self.tokens -= n
            debt = -self.tokens
        if debt > 0:
            time.sleep(debt / self.rate)


class Stats:
    """Per-kind request and byte counters; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self.requests = dict.fromkeys(KINDS, 0)
            self.bytes_out = dict.fromkeys(KINDS, 0)  # response bodies, server -> client
            self.bytes_in = dict.fromkeys(KINDS, 0)  # request bodies, client -> server
            self.status = {}
            self.faults = {"error_503": 0, "truncated": 0}
            self.since = time.time()

    def add(self, table, kind, n):
        with self._lock:
            getattr(self, table)[kind] += n

    def count_status(self, code):
        key = "%dxx" % (code // 100)
        with self._lock:
            self.status[key] = self.status.get(key, 0) + 1

    def fault(self, name):
        with self._lock:
            self.faults[name] += 1

    def snapshot(self):
        with self._lock:
            return {
                "requests": dict(self.requests),
                "bytes_out": dict(self.bytes_out),
                "bytes_in": dict(self.bytes_in),
                "total_requests": sum(self.requests.values()),
                "total_bytes_out": sum(self.bytes_out.values()),
                "status": dict(self.status),
                "faults": dict(self.faults),
                "since": self.since,
            }


class Conn:
    """A blocking socket with a read buffer for heads; bodies bypass the buffer via splice."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def read_head(self):
        """Returns the raw head (through CRLFCRLF) or b"" on clean EOF before any byte."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[: end + 4])
                del self.buf[: end + 4]
                return head
            if len(self.buf) > MAX_HEAD:
                raise ProxyError("head too large")
            data = self.sock.recv(65536)
            if not data:
                if self.buf:
                    raise ProxyError("EOF inside head")
                return b""
            self.buf += data

    def read_line(self):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[: end + 2])
                del self.buf[: end + 2]
                return line
            data = self.sock.recv(65536)
            if not data:
                raise ProxyError("EOF inside chunked body")
            self.buf += data

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_head(head):
    lines = head[:-4].split(b"\r\n")
    first = lines[0].decode("latin-1")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return first, headers


def classify(method, target, headers):
    path, _, query = target.partition("?")
    if method == "HEAD":
        return "HEAD"
    if method == "PUT":
        return "PUT"
    if method == "GET":
        # Path-style: /bucket or /bucket/ is a bucket-level request; a key follows otherwise.
        parts = path.lstrip("/").split("/", 1)
        is_bucket = len(parts) == 1 or parts[1] == ""
        if is_bucket:
            return "LIST" if ("list-type" in query or query == "" or "prefix" in query) else "OTHER"
        return "GET_RANGE" if "range" in headers else "GET"
    return "OTHER"


class Relay:
    """Moves exact byte counts between sockets through a private pipe (splice)."""

    def __init__(self, shaper, stats):
        self.shaper = shaper
        self.stats = stats
        self.rpipe, self.wpipe = os.pipe()
        try:
            fcntl.fcntl(self.wpipe, fcntl.F_SETPIPE_SZ, CHUNK)
        except (OSError, AttributeError):
            pass

    def close(self):
        os.close(self.rpipe)
        os.close(self.wpipe)

    def copy(self, src, dst, n, table, kind):
        """Copy n bytes (None = until EOF) from src Conn to dst socket. Returns bytes copied."""
        done = 0
        if src.buf:
            take = len(src.buf) if n is None else min(n, len(src.buf))
            piece = bytes(src.buf[:take])
            del src.buf[:take]
            self.shaper.consume(take)
            self.stats.add(table, kind, take)
            dst.sendall(piece)
            done += take
        src_fd, dst_fd = src.sock.fileno(), dst.fileno()
        shaped = self.shaper.rate > 0
        while n is None or done < n:
            want = CHUNK if n is None else min(CHUNK, n - done)
            got = os.splice(src_fd, self.wpipe, want, flags=SPLICE_FLAGS)
            if got == 0:
                if n is None:
                    break
                raise ProxyError("EOF inside body")
            if shaped:
                self.shaper.consume(got)
            # Counted before the client can see the bytes, so a reader that checks the
            # counters right after its read returns never sees them lag.
            self.stats.add(table, kind, got)
            left = got
            while left:
                left -= os.splice(self.rpipe, dst_fd, left, flags=SPLICE_FLAGS)
            done += got
        return done

    def copy_chunked(self, src, dst, table, kind):
        """Relay a chunked body verbatim (sizes, data, trailers)."""
        while True:
            line = src.read_line()
            dst.sendall(line)
            size = int(line.split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers until the blank line
                    trailer = src.read_line()
                    dst.sendall(trailer)
                    if trailer == b"\r\n":
                        return
            self.copy(src, dst, size, table, kind)
            dst.sendall(src.read_line())  # CRLF after the chunk data


def body_length(headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked"
    if "content-length" in headers:
        return int(headers["content-length"])
    return None


class Handler:
    def __init__(self, server, client_sock):
        self.server = server
        self.client = Conn(client_sock)
        self.upstream = None
        self.relay = Relay(server.shaper, server.stats)

    def run(self):
        try:
            while self.serve_one():
                pass
        except (OSError, ProxyError, ValueError):
            pass
        finally:
            self.client.close()
            if self.upstream:
                self.upstream.close()
            self.relay.close()

    def connect_upstream(self):
        if self.upstream is None:
            sock = socket.create_connection(self.server.upstream)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.upstream = Conn(sock)
        return self.upstream

    def drop_upstream(self):
        if self.upstream:
            self.upstream.close()
            self.upstream = None

    def send_simple(self, code, reason, body, ctype="application/json", close=False):
        head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s\r\n" % (
            code,
            reason,
            ctype,
            len(body),
            "Connection: close\r\n" if close else "",
        )
        self.client.sock.sendall(head.encode() + body)

    def discard_body(self, headers):
        length = body_length(headers)
        if length == "chunked":
            with open(os.devnull, "wb") as null:
                self.relay.copy_chunked(self.client, _FileSock(null), "bytes_in", "OTHER")
        elif length:
            while length:
                take = min(length, len(self.client.buf))
                if take:
                    del self.client.buf[:take]
                    length -= take
                else:
                    data = self.client.sock.recv(min(CHUNK, length))
                    if not data:
                        raise ProxyError("EOF in discarded body")
                    length -= len(data)

    def control(self, method, target, headers):
        length = body_length(headers)
        body = b""
        if isinstance(length, int) and length:
            while len(self.client.buf) < length:
                data = self.client.sock.recv(65536)
                if not data:
                    raise ProxyError("EOF in control body")
                self.client.buf += data
            body = bytes(self.client.buf[:length])
            del self.client.buf[:length]
        path = target.split("?")[0]
        if path == "/__proxy/stats":
            out = self.server.stats.snapshot()
            out["config"] = self.server.shaper.config()
        elif path == "/__proxy/reset" and method == "POST":
            self.server.stats.reset()
            out = {"ok": True}
        elif path == "/__proxy/config" and method == "POST":
            try:
                self.server.shaper.configure(**json.loads(body or b"{}"))
            except (ValueError, TypeError) as e:
                self.send_simple(400, "Bad Request", json.dumps({"error": str(e)}).encode())
                return
            out = self.server.shaper.config()
        else:
            self.send_simple(404, "Not Found", b'{"error":"unknown control path"}')
            return
        self.send_simple(200, "OK", json.dumps(out).encode())

    def serve_one(self):
        """Handles one request; returns False when the client connection must end."""
        head = self.client.read_head()
        if not head:
            return False
        first, headers = parse_head(head)
        method, target, _version = first.split(" ", 2)
        if target.startswith("/__proxy/"):
            self.control(method, target, headers)
            return True
        stats, shaper = self.server.stats, self.server.shaper
        kind = classify(method, target, headers)
        stats.add("requests", kind, 1)
        if shaper.chance(shaper.error_rate):
            stats.fault("error_503")
            stats.count_status(503)
            if "100-continue" in headers.get("expect", "").lower():
                # The client waits for us before sending the body: refuse and close.
                self.send_simple(503, "Slow Down", SLOWDOWN, "application/xml", close=True)
                return False
            self.discard_body(headers)
            self.send_simple(503, "Slow Down", SLOWDOWN, "application/xml")
            return True
        shaper.delay()
        up = self.connect_upstream()
        up.sock.sendall(head)
        expect_continue = "100-continue" in headers.get("expect", "").lower()
        req_len = body_length(headers)
        if not expect_continue:
            self.send_request_body(req_len, kind)
        while True:
            rhead = up.read_head()
            if not rhead:
                raise ProxyError("upstream closed before response")
            status_line, rheaders = parse_head(rhead)
            code = int(status_line.split(" ", 2)[1])
            if 100 <= code < 200:
                self.client.sock.sendall(rhead)
                if code == 100 and expect_continue:
                    self.send_request_body(req_len, kind)
                    expect_continue = False
                continue
            break
        stats.count_status(code)
        if expect_continue and req_len:
            # Final answer before the body was sent: this connection's framing is unknown now.
            self.client.sock.sendall(rhead)
            self.relay_response(method, code, rheaders, kind, truncate=False)
            self.drop_upstream()
            return False
        self.client.sock.sendall(rhead)
        truncate = kind in ("GET", "GET_RANGE") and shaper.chance(shaper.truncate_rate)
        keep = self.relay_response(method, code, rheaders, kind, truncate)
        if not keep:
            self.drop_upstream()
            return False
        client_close = "close" in headers.get("connection", "").lower()
        return not client_close

    def send_request_body(self, req_len, kind):
        up = self.upstream
        if req_len == "chunked":
            self.relay.copy_chunked(self.client, up.sock, "bytes_in", kind)
        elif req_len:
            self.relay.copy(self.client, up.sock, req_len, "bytes_in", kind)

    def relay_response(self, method, code, rheaders, kind, truncate):
        """Relays the response body; returns whether both connections stay usable."""
        up = self.upstream
        if method == "HEAD" or code in (204, 304):
            return "close" not in rheaders.get("connection", "").lower()
        length = body_length(rheaders)
        if length == "chunked":
            self.relay.copy_chunked(up, self.client.sock, "bytes_out", kind)
        elif length is None:
            self.relay.copy(up, self.client.sock, None, "bytes_out", kind)
            return False
        elif truncate and length > 1:
            self.server.stats.fault("truncated")
            self.relay.copy(up, self.client.sock, length // 2, "bytes_out", kind)
            return False
        else:
            self.relay.copy(up, self.client.sock, length, "bytes_out", kind)
        return "close" not in rheaders.get("connection", "").lower()


class _FileSock:
    """Adapter so a discarded chunked body can be 'sent' to a file."""

    def __init__(self, f):
        self.f = f

    def sendall(self, data):
        self.f.write(data)

    def fileno(self):
        return self.f.fileno()


SLOWDOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate. (injected by bench proxy)</Message></Error>"
)


class ProxyServer:
    def __init__(self, listen, upstream, shaper):
        self.upstream = upstream
        self.shaper = shaper
        self.stats = Stats()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(listen)
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]

    def serve_forever(self):
        while True:
            client, _ = self.sock.accept()
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            handler = Handler(self, client)
            threading.Thread(target=handler.run, daemon=True).start()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0 picks one)")
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the S3 server")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--bandwidth-mbps", type=float, default=0.0, help="MB/s, 0 = unlimited")
    ap.add_argument("--error-rate", type=float, default=0.0, help="fraction answered 503")
    ap.add_argument("--truncate-rate", type=float, default=0.0, help="fraction of GET bodies cut")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    args = ap.parse_args(argv)

    host, _, port = args.listen.rpartition(":")
    uhost, _, uport = args.upstream.rpartition(":")
    shaper = Shaper(args.latency_ms, args.bandwidth_mbps, args.error_rate, args.truncate_rate,
                    args.seed)
    server = ProxyServer((host, int(port)), (uhost, int(uport)), shaper)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.port)
        os.replace(tmp, args.port_file)
    print("proxy listening on %s:%d -> %s" % (host, server.port, args.upstream), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
