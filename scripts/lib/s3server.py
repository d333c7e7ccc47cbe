"""Start, seed and stop a local S3 server (npm's s3rver 3.7.1) for strata's scripts and tests.

Shared by scripts/quickstart.sh, tests/integration and scripts/bench. Runs with /usr/bin/python3
(the interpreter that has boto3). Only 127.0.0.1 is used, and a server is only ever stopped by
the PID this module recorded when it started it.

Python API:
    from s3server import S3Server, free_port, put_tree
    with S3Server(state_dir, buckets=["data"]) as srv:   # or srv.start() ... srv.stop()
        srv.endpoint          # "http://127.0.0.1:PORT"
        srv.client()          # boto3 S3 client (path-style, creds S3RVER/S3RVER)
        srv.create_bucket("other")
        srv.put_objects("data", {"k": b"bytes", "big": Path("/local/file")}, threads=16)
        srv.write_objects_direct("data", {"k": b"bytes"})   # thousands of objects in ~1 s
        put_tree(srv.client(), "data", Path("/local/dir"), prefix="p/")
        srv.env()             # env vars for a strata child: AWS_ACCESS_KEY_ID/SECRET/region
    S3Server.stop_from_state(state_dir)   # stop a server started by another process

Command line (used by the shell scripts):
    s3server.py start --state-dir D [--port P] [--bucket B ...]   prints the endpoint URL
    s3server.py stop --state-dir D
    s3server.py status --state-dir D                              exit 0 if it is running
    s3server.py put-tree --endpoint URL --bucket B --dir DIR [--prefix P] [--threads N]

State dir layout: D/s3rver.pid, D/s3rver.port, D/s3rver.log, D/data/ (s3rver's --directory).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterable, Mapping

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCESS_KEY = "S3RVER"
SECRET_KEY = "S3RVER"
REGION = "us-east-1"
HOST = "127.0.0.1"
# Markers that scripts/s3rver/*.patch put into s3rver's sources (checked before starting it).
PATCH_MARKERS = {
    "lib/stores/filesystem.js": "strata patch (scripts/s3rver/filesystem-delimiter.patch)",
    "lib/controllers/bucket.js": "strata patch (scripts/s3rver/continuation-token.patch)",
    "lib/middleware/authentication.js": "strata patch (scripts/s3rver/sigv4-verify.patch)",
}


def server_env() -> dict[str, str]:
    """The node process's environment: ours, plus a fixed glibc heap pad.

    Without it, whether s3rver's heap falls into a trim loop depends on the process's heap
    layout (in our runs: on whether it started with --configure-bucket): each request's buffers
    are freed at the top of the heap, glibc gives the pages back (brk down), the next request
    takes them again (brk up) and faults fresh, zeroed pages in. One such process made 778 brk
    calls serving a GiB in 64 ranged GETs (another made 26), spent twice the kernel time and
    served a strata mount 20-30 % slower: a client paid for every request it made, at random
    per server start. A 64 MiB pad keeps those pages in the process, so every server start and
    every client sees the same server.
    """
    env = dict(os.environ)
    env.setdefault("MALLOC_TOP_PAD_", str(64 << 20))
    return env


class S3ServerError(RuntimeError):
    pass


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago (callers retry on a lost race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def find_s3rver() -> Path:
    """The s3rver executable installed by scripts/lib/setup-s3rver.sh, checked to be patched.

    $STRATA_S3RVER overrides the location (the patch check still applies).
    """
    override = os.environ.get("STRATA_S3RVER")
    binary = Path(override) if override else REPO_ROOT / "scripts/s3rver/node_modules/.bin/s3rver"
    if not binary.exists():
        raise S3ServerError(
            f"s3rver not found at {binary}; run scripts/lib/setup-s3rver.sh (npm ci + patch)")
    package = binary.resolve().parent.parent
    for rel, marker in PATCH_MARKERS.items():
        source = package / rel
        if not source.exists() or marker not in source.read_text():
            raise S3ServerError(f"{source} lacks strata's patch; run scripts/lib/setup-s3rver.sh")
    return binary


def _pid_is_s3rver(pid: int) -> bool:
    """True if pid is alive and its command line is an s3rver (guards against PID reuse)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"s3rver" in cmdline


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_is_s3rver(pid):
            return True
        time.sleep(0.05)
    return not _pid_is_s3rver(pid)


def _kill_pid(pid: int) -> None:
    """SIGTERM, then SIGKILL after 5 s, only if pid is still an s3rver."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if not _pid_is_s3rver(pid):
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait_gone(pid, wait):
            return
    raise S3ServerError(f"s3rver pid {pid} did not exit")


def make_client(endpoint: str, max_pool: int = 32):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
        config=Config(
            s3={"addressing_style": "path"},
            max_pool_connections=max_pool,
            retries={"max_attempts": 5, "mode": "standard"},
            connect_timeout=5,
            read_timeout=120,
        ),
    )


def _put_one(client, bucket: str, key: str, body) -> None:
    if isinstance(body, (bytes, bytearray)):
        client.put_object(Bucket=bucket, Key=key, Body=bytes(body))
        return
    path = Path(body)
    # A single PUT, not multipart: s3rver's multipart ETags differ from S3's, and one PUT of a
    # few hundred MiB is fine on loopback.
    with path.open("rb") as f:
        client.put_object(Bucket=bucket, Key=key, Body=f, ContentLength=path.stat().st_size)


def put_objects(client, bucket: str, objects: Mapping[str, object] | Iterable[tuple[str, object]],
                threads: int = 16) -> int:
    """Uploads objects (key -> bytes or local Path) with a thread pool; returns the count."""
    items = list(objects.items()) if isinstance(objects, Mapping) else list(objects)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(_put_one, client, bucket, k, v) for k, v in items]
        for fut in concurrent.futures.as_completed(futures):
            fut.result()  # re-raise the first failure
    return len(items)


def put_tree(client, bucket: str, local_dir: Path, prefix: str = "", threads: int = 16) -> int:
    """Uploads every regular file under local_dir as prefix + its relative path ('/'-joined)."""
    local_dir = Path(local_dir)
    items = []
    for root, _dirs, files in os.walk(local_dir):
        for name in files:
            path = Path(root) / name
            items.append((prefix + path.relative_to(local_dir).as_posix(), path))
    return put_objects(client, bucket, items, threads=threads)


class S3Server:
    """One s3rver process on 127.0.0.1 with its data under state_dir.

    Not thread-safe: start/stop from one thread. The boto3 clients it hands out are thread-safe.
    """

    def __init__(self, state_dir: os.PathLike | str, buckets: Iterable[str] = (),
                 port: int | None = None, startup_timeout: float = 30.0):
        self.state_dir = Path(state_dir).resolve()
        self.buckets = list(buckets)
        self.port = port
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None

    # -- paths ---------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def pid_file(self) -> Path:
        return self.state_dir / "s3rver.pid"

    @property
    def port_file(self) -> Path:
        return self.state_dir / "s3rver.port"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "s3rver.log"

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """Environment for a strata child process talking to this server."""
        env = dict(os.environ if base is None else base)
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_REGION=REGION)
        for var in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            env.pop(var, None)
        return env

    def client(self, max_pool: int = 32):
        return make_client(self.endpoint, max_pool=max_pool)

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> "S3Server":
        binary = find_s3rver()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fixed_port = self.port
        last_error = ""
        for _attempt in range(3 if fixed_port is None else 1):
            self.port = fixed_port or free_port()
            args = [str(binary), "--directory", str(self.data_dir), "--address", HOST,
                    "--port", str(self.port), "--silent"]
            for bucket in self.buckets:
                args += ["--configure-bucket", bucket]
            with self.log_file.open("ab") as log:
                # Own session: a Ctrl-C in the caller's terminal does not kill the server half-way;
                # the caller stops it by PID.
                self.proc = subprocess.Popen(args, env=server_env(), stdin=subprocess.DEVNULL,
                                             stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)
            self.pid = self.proc.pid
            self.pid_file.write_text(f"{self.pid}\n")
            self.port_file.write_text(f"{self.port}\n")
            try:
                self._wait_ready()
                return self
            except S3ServerError as e:
                last_error = str(e)
                self.stop()
        raise S3ServerError(f"s3rver did not start: {last_error}; log: {self.log_file}")

    def _wait_ready(self) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                raise S3ServerError(f"s3rver exited with {self.proc.returncode}: {tail.strip()}")
            try:
                # Any HTTP answer (an unsigned request gets 403) means it is listening.
                # The proxy handler is bypassed: only loopback here.
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                opener.open(self.endpoint + "/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise S3ServerError(f"s3rver not ready on {self.endpoint} after {self.startup_timeout}s")
        # Buckets are configured before listen(), but check through the S3 API anyway.
        client = self.client()
        for bucket in self.buckets:
            client.head_bucket(Bucket=bucket)

    def stop(self) -> None:
        """Stops the server this object started (by PID). Idempotent."""
        if self.pid is not None:
            _kill_pid(self.pid)
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            self.pid = None
            self.proc = None
        for f in (self.pid_file, self.port_file):
            f.unlink(missing_ok=True)

    @classmethod
    def from_state(cls, state_dir: os.PathLike | str) -> "S3Server | None":
        """The running server recorded in state_dir by another process, or None."""
        srv = cls(state_dir)
        try:
            pid = int(srv.pid_file.read_text().strip())
            port = int(srv.port_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _pid_is_s3rver(pid):
            return None
        srv.pid, srv.port = pid, port
        return srv

    @classmethod
    def stop_from_state(cls, state_dir: os.PathLike | str) -> bool:
        """Stops the server recorded in state_dir; returns True if one was running."""
        srv = cls.from_state(state_dir)
        if srv is None:
            cls(state_dir).stop()  # clear stale pid/port files
            return False
        srv.stop()
        return True

    def write_objects_direct(self, bucket: str, objects: Mapping[str, bytes]) -> int:
        """Writes objects straight into s3rver's on-disk store (its 3.7.1 filesystem layout), much
        faster than PUTs for thousands of small objects. The bucket must exist. Keys must be
        storable as paths (no empty, '.' or '..' segments). s3rver reads the store on every
        request, so the objects are visible at once; callers should still verify a sample
        through the S3 API (tests/integration/test_listing.py does)."""
        import hashlib
        import json

        root = self.data_dir / bucket
        if not root.is_dir():
            raise S3ServerError(f"bucket {bucket} does not exist in {self.data_dir}")
        metadata = json.dumps({"content-type": "binary/octet-stream"}, indent=2)
        for key, body in objects.items():
            parts = key.split("/")
            if any(p in ("", ".", "..") for p in parts) or any(len(p.encode()) > 200 for p in parts):
                raise S3ServerError(f"key {key!r} cannot be written directly; PUT it instead")
            base = root.joinpath(*parts[:-1])
            base.mkdir(parents=True, exist_ok=True)
            stem = base / parts[-1]
            Path(f"{stem}._S3rver_object").write_bytes(body)
            Path(f"{stem}._S3rver_object.md5").write_text(hashlib.md5(body).hexdigest())
            Path(f"{stem}._S3rver_metadata.json").write_text(metadata)
        return len(objects)

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def put_objects(self, bucket: str, objects, threads: int = 16) -> int:
        return put_objects(self.client(max_pool=threads * 2), bucket, objects, threads=threads)

    def put_tree(self, bucket: str, local_dir: Path, prefix: str = "", threads: int = 16) -> int:
        return put_tree(self.client(max_pool=threads * 2), bucket, local_dir, prefix, threads)

    def __enter__(self) -> "S3Server":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("start")
    p.add_argument("--state-dir", required=True)
    p.add_argument("--port", type=int)
    p.add_argument("--bucket", action="append", default=[])
    p = sub.add_parser("stop")
    p.add_argument("--state-dir", required=True)
    p = sub.add_parser("status")
    p.add_argument("--state-dir", required=True)
    p = sub.add_parser("put-tree")
    p.add_argument("--endpoint", required=True)
    p.add_argument("--bucket", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--prefix", default="")
    p.add_argument("--threads", type=int, default=16)
    args = ap.parse_args(argv)

    try:
        if args.cmd == "start":
            if S3Server.from_state(args.state_dir) is not None:
                print(f"s3server: a server from {args.state_dir} is already running; stop it first",
                      file=sys.stderr)
                return 1
            srv = S3Server(args.state_dir, buckets=args.bucket, port=args.port).start()
            print(srv.endpoint)
        elif args.cmd == "stop":
            was = S3Server.stop_from_state(args.state_dir)
            print("s3server: stopped" if was else "s3server: not running")
        elif args.cmd == "status":
            srv = S3Server.from_state(args.state_dir)
            if srv is None:
                print("s3server: not running")
                return 1
            print(f"s3server: pid {srv.pid} on {srv.endpoint}")
        elif args.cmd == "put-tree":
            t0 = time.monotonic()
            n = put_tree(make_client(args.endpoint, max_pool=args.threads * 2), args.bucket,
                         Path(args.dir), args.prefix, args.threads)
            print(f"s3server: uploaded {n} objects to s3://{args.bucket}/{args.prefix} "
                  f"in {time.monotonic() - t0:.1f}s")
    except S3ServerError as e:
        print(f"s3server: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
