"""A tiny in-process S3 server for keys that s3rver cannot store.

s3rver keeps each key as a file path, so it normalises "a//b" and "x/./y" and cannot store a
300-byte path segment. Real S3 stores all of them, and strata must skip them (with a warning)
without crashing. This server holds objects in memory and implements what a read-only mount
needs, following the S3 API: HeadBucket, GetBucketLocation, ListObjectsV2 (prefix, delimiter,
start-after, continuation tokens, max-keys, encoding-type=url), HeadObject and GetObject with a
Range. Path-style addressing only; requests are not authenticated.

    with FakeS3({"bucket": {"key": b"bytes"}}) as fake:
        fake.endpoint       # http://127.0.0.1:PORT
        fake.requests       # [(method, path, query)] seen so far
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import http.server
import threading
import time
import urllib.parse
from xml.sax.saxutils import escape

_LAST_MODIFIED = time.time()


def _etag(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest() + '"'


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(ts))


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as S3 does; every reply has a Content-Length
    server: "_Server"

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- plumbing ------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
              head: bool = False) -> None:
        self.send_response(status)
        hdrs = {"Content-Length": str(len(body)), "x-amz-request-id": "FAKE"}
        hdrs.update(headers or {})
        for k, v in hdrs.items():
            self.send_header(k, v)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, head: bool = False) -> None:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{escape(message)}</Message></Error>").encode()
        self._send(status, body, {"Content-Type": "application/xml"}, head=head)

    def _parse(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        path = urllib.parse.unquote(url.path)
        bucket, _, key = path.lstrip("/").partition("/")
        with self.server.lock:
            self.server.requests.append((self.command, path, query))
        return bucket, key, query

    # -- verbs ---------------------------------------------------------------------------------
    def do_HEAD(self):
        self._get(head=True)

    def do_GET(self):
        self._get(head=False)

    def do_PUT(self):
        self._drain()
        self._error(501, "NotImplemented", "fakes3 is read-only")

    do_POST = do_PUT
    do_DELETE = do_PUT

    def _drain(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def _get(self, head: bool) -> None:
        self._drain()
        bucket, key, query = self._parse()
        objects = self.server.buckets.get(bucket)
        if objects is None:
            return self._error(404, "NoSuchBucket", "The specified bucket does not exist", head)
        if not key:
            if head:
                return self._send(200, headers={"x-amz-bucket-region": "us-east-1"}, head=True)
            if "location" in query:
                body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint '
                        b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>')
                return self._send(200, body, {"Content-Type": "application/xml"})
            return self._list(bucket, objects, query)
        data = objects.get(key)
        if data is None:
            return self._error(404, "NoSuchKey", "The specified key does not exist.", head)
        headers = {
            "ETag": _etag(data),
            "Last-Modified": email.utils.formatdate(_LAST_MODIFIED, usegmt=True),
            "Content-Type": "application/octet-stream",
            "Accept-Ranges": "bytes",
        }
        rng = self.headers.get("Range")
        if head or not rng:
            headers["Content-Length"] = str(len(data))
            if head:
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                return None
            return self._send(200, data, headers)
        first, last = self._range(rng, len(data))
        if first is None:
            headers["Content-Range"] = f"bytes */{len(data)}"
            return self._error(416, "InvalidRange", "The requested range is not satisfiable")
        headers["Content-Range"] = f"bytes {first}-{last}/{len(data)}"
        return self._send(206, data[first:last + 1], headers)

    @staticmethod
    def _range(header: str, size: int):
        spec = header.strip().removeprefix("bytes=")
        start, _, end = spec.partition("-")
        if start == "":
            n = int(end)
            first, last = max(0, size - n), size - 1
        else:
            first = int(start)
            last = min(int(end), size - 1) if end else size - 1
        if first >= size or first > last:
            return None, None
        return first, last

    def _list(self, bucket: str, objects: dict, query: dict) -> None:
        if query.get("list-type") != "2":
            return self._error(400, "InvalidArgument", "fakes3 serves ListObjectsV2 only")
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        max_keys = min(int(query.get("max-keys", "1000")), 1000)
        url_encode = query.get("encoding-type") == "url"
        after = query.get("start-after", "")
        token = query.get("continuation-token")
        if token:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        contents, prefixes, truncated, last = [], [], False, ""
        for key in sorted(objects):
            if not key.startswith(prefix) or key <= after:
                continue
            entry, is_prefix = key, False
            if delimiter:
                idx = key.find(delimiter, len(prefix))
                if idx != -1:
                    entry, is_prefix = key[:idx + len(delimiter)], True
                    # Seen on this page, or the page before ended with this common prefix.
                    if (prefixes and prefixes[-1] == entry) or entry == after:
                        continue
            if len(contents) + len(prefixes) == max_keys:
                truncated = True
                break
            if is_prefix:
                prefixes.append(entry)
            else:
                contents.append(key)
            last = entry

        def enc(s: str) -> str:
            return escape(urllib.parse.quote_plus(s, safe="/") if url_encode else s)

        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
                 f"<Name>{escape(bucket)}</Name><Prefix>{enc(prefix)}</Prefix>",
                 f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>",
                 f"<MaxKeys>{max_keys}</MaxKeys>"]
        if delimiter:
            parts.append(f"<Delimiter>{enc(delimiter)}</Delimiter>")
        if url_encode:
            parts.append("<EncodingType>url</EncodingType>")
        parts.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
        if token:
            parts.append(f"<ContinuationToken>{escape(token)}</ContinuationToken>")
        if truncated:
            next_token = base64.urlsafe_b64encode(last.encode()).decode()
            parts.append(f"<NextContinuationToken>{next_token}</NextContinuationToken>")
        for key in contents:
            data = objects[key]
            parts.append(f"<Contents><Key>{enc(key)}</Key>"
                         f"<LastModified>{_iso(_LAST_MODIFIED)}</LastModified>"
                         f"<ETag>{escape(_etag(data))}</ETag><Size>{len(data)}</Size>"
                         "<StorageClass>STANDARD</StorageClass></Contents>")
        for p in prefixes:
            parts.append(f"<CommonPrefixes><Prefix>{enc(p)}</Prefix></CommonPrefixes>")
        parts.append("</ListBucketResult>")
        self._send(200, "".join(parts).encode(), {"Content-Type": "application/xml"})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, buckets: dict):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.buckets = buckets
        self.requests: list = []
        self.lock = threading.Lock()


class FakeS3:
    """Serves `buckets` ({bucket: {key: bytes}}) on 127.0.0.1 from a background thread."""

    def __init__(self, buckets: dict[str, dict[str, bytes]]):
        self._server = _Server(buckets)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list:
        with self._server.lock:
            return list(self._server.requests)

    def start(self) -> "FakeS3":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeS3":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
