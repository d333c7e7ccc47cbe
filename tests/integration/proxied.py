"""Helpers for tests that count strata's requests: the bench proxy in front of the fixture's
s3rver, and the Prometheus text strata writes with --metrics-file.

    with CountingProxy(srv) as proxy:          # scripts/bench/proxy.py, own process, by PID
        proxy.endpoint                         # "http://127.0.0.1:PORT" for --endpoint
        proxy.reset(); ...; proxy.data_gets()  # GET + GET_RANGE requests since the reset
        proxy.configure(error_rate=0.2)        # fault knobs, see proxy.py --help

    read_metrics(path) -> {"name{label=\"v\"}": value, ...};  metric(m, name, **labels)

The proxy is not part of strata; it lives in scripts/bench (owned by the bench scripts) and is
used here unchanged.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness import REPO_ROOT, Config, StrataTestCase

PROXY = REPO_ROOT / "scripts" / "bench" / "proxy.py"
DATA_KINDS = ("GET", "GET_RANGE")


class CountingProxy:
    """One proxy.py process on 127.0.0.1 forwarding to an s3rver; stopped by its PID."""

    def __init__(self, srv, name: str):
        self.srv = srv
        self.dir = Config.state / "proxy" / name
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        # No proxies between the test and 127.0.0.1 (the machine's env may name one).
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "CountingProxy":
        self.dir.mkdir(parents=True, exist_ok=True)
        port_file = self.dir / "port"
        port_file.unlink(missing_ok=True)
        log = (self.dir / "proxy.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(PROXY), "--listen", "127.0.0.1:0", "--upstream",
             f"127.0.0.1:{self.srv.port}", "--seed", "1", "--port-file", str(port_file)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        # harness.cleanup_fixture() stops it from this file if the test process dies first.
        (self.dir / "pid").write_text(f"{self.proc.pid}\n")
        atexit.register(self.stop)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.proc.returncode}; see {self.dir}")
            try:
                self.port = int(port_file.read_text())
                self.stats()
                return self
            except (OSError, ValueError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("proxy did not start within 15 s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        (self.dir / "pid").unlink(missing_ok=True)

    def __enter__(self) -> "CountingProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _call(self, path: str, body: dict | None = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.endpoint + path, data=data,
                                     method="GET" if body is None else "POST")
        with self._opener.open(req, timeout=10) as resp:
            return json.loads(resp.read())

    def stats(self) -> dict:
        return self._call("/__proxy/stats")

    def reset(self) -> None:
        self._call("/__proxy/reset", {})

    def configure(self, **knobs) -> dict:
        return self._call("/__proxy/config", knobs)

    def data_gets(self, stats: dict | None = None) -> int:
        s = stats or self.stats()
        return sum(s["requests"][k] for k in DATA_KINDS)

    def data_bytes(self, stats: dict | None = None) -> int:
        s = stats or self.stats()
        return sum(s["bytes_out"][k] for k in DATA_KINDS)

    @staticmethod
    def summary(s: dict) -> str:
        req = " ".join(f"{k}={v}" for k, v in s["requests"].items() if v)
        out = sum(s["bytes_out"].values())
        return f"requests[{req or 'none'}] bytes_out={out} faults={s['faults']}"


def read_metrics(path: os.PathLike | str) -> dict[str, float]:
    """Parses Prometheus text into {'name' or 'name{labels}': value}."""
    out = {}
    for line in Path(path).read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        out[name] = float(value)
    return out


def metric(m: dict[str, float], name: str, **labels) -> float:
    """Sum of the samples of name whose labels include the given ones (0 if none)."""
    total = 0.0
    want = [f'{k}="{v}"' for k, v in labels.items()]
    for key, value in m.items():
        base, _, rest = key.partition("{")
        if base == name and all(w in rest for w in want):
            total += value
    return total


class ProxiedTestCase(StrataTestCase):
    """StrataTestCase with a counting proxy (self.proxy) in front of the fixture's s3rver."""

    proxy: CountingProxy

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.proxy = CountingProxy(cls.srv, cls.__name__.lower()).start()

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()  # unmounts first: the daemons must not lose their store
        finally:
            cls.proxy.stop()

    def mount_proxied(self, source: str, extra=(), mp: Path | None = None) -> Path:
        """Mounts through the proxy; the mount is undone in the test's cleanup."""
        mp = self.mounter.mount(source, self.proxy.endpoint, mp=mp, extra=list(extra),
                                env=self.env())
        self.addCleanup(self._unmount_checked, mp)
        return mp

    def unmount(self, mp: Path) -> None:
        problems = self.mounter.unmount(mp)
        if problems:
            self.fail("; ".join(problems))


def drop_page_cache() -> bool:
    """echo 3 > /proc/sys/vm/drop_caches; False where /proc/sys is read-only (containers)."""
    try:
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False
