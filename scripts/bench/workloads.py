"""The benchmark workloads. Each runs on one System and returns result records.

A record: {system, workload, phase, metric, unit, value, higher_is_better, seconds,
bytes_read, fetched_bytes, requests{kind: n}, status, note}. fetched_bytes/requests come from
the proxy's counters (reset before, read after each measured step); None when the reads
do not go through the proxy (the local copy, or a real endpoint without the proxy).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import datasets as D

BENCH_DIR = Path(__file__).resolve().parent
FIO_DIR = BENCH_DIR / "fio"
PYTHON = "/usr/bin/python3"


class ProxyClient:
    """Talks to proxy.py's control endpoints (never through an http_proxy from the env)."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def _call(self, method, path, body=None):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        with self.opener.open(req, timeout=10) as r:
            return json.loads(r.read())

    def reset(self):
        self._call("POST", "/__proxy/reset", b"")

    def stats(self):
        return self._call("GET", "/__proxy/stats")

    def configure(self, **kw):
        return self._call("POST", "/__proxy/config", json.dumps(kw).encode())


@dataclass
class Limits:
    """Time caps (seconds). The defaults bound a full run; --quick shortens them."""

    command: float = 150.0  # any single dd/find/ls
    fio_seq: int = 45  # fio runtime cap, sequential jobs
    fio_rand: int = 10  # fio time_based runtime, random jobs
    fio_fixed: int = 240  # stall guard for the fixed-work job
    epoch: float = 90.0  # loader: images/s over at most this long


class Ctx:
    def __init__(self, system, variant, proxy, reaper, limits: Limits, log, fixed_bw: float,
                 base_bw: float, drop: bool):
        self.system = system
        self.v = variant
        self.proxy = proxy if system.remote_backed else None
        self.reaper = reaper
        self.limits = limits
        self.log = log
        self.fixed_bw = fixed_bw
        self.base_bw = base_bw
        self.drop = drop

    @property
    def root(self) -> Path:
        return self.system.root

    def drop_caches(self):
        if not self.drop:
            return
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")

    def reset(self):
        if self.proxy:
            self.proxy.reset()

    def fetched(self):
        if not self.proxy:
            return None
        return self.proxy.stats()

    def run(self, args, timeout, env=None, cwd=None):
        """Runs a command in its own session; returns (rc, stdout, stderr, seconds, timed_out)."""
        t0 = time.monotonic()
        proc = self.reaper.popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                 cwd=cwd)
        try:
            out, err = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            self.reaper.stop(proc, grace=3.0)
            out, err = proc.communicate()
            timed_out = True
        seconds = time.monotonic() - t0
        self.reaper.stop(proc)
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), \
            seconds, timed_out

    def record(self, workload, phase, metric, unit, value, seconds, bytes_read, stats,
               higher=True, status="ok", note="", **extra):
        rec = {
            "system": self.system.name, "workload": workload, "phase": phase, "metric": metric,
            "unit": unit, "value": value, "higher_is_better": higher, "seconds": seconds,
            "bytes_read": bytes_read, "fetched_bytes": None, "requests": None,
            "status": status, "note": note,
        }
        if stats is not None:
            rec["fetched_bytes"] = stats["total_bytes_out"]
            rec["requests"] = stats["requests"]
        rec.update(extra)
        return rec


def _status(rc, timed_out):
    return "timeout" if timed_out else ("ok" if rc == 0 else "error")


def dd(ctx: Ctx):
    """Sequential read of the 1 GiB object: cold (new mount, empty cache, page cache dropped),
    warm (page cache dropped, the filesystem's own cache is warm), hot (page cache warm)."""
    path = ctx.root / D.BIG
    out = []
    for phase, drop in (("cold", True), ("warm", True), ("hot", False)):
        if drop:
            ctx.drop_caches()
        ctx.reset()
        rc, _o, err, secs, to = ctx.run(["dd", "if=%s" % path, "of=/dev/null", "bs=1M"],
                                        ctx.limits.command)
        stats = ctx.fetched()
        m = re.search(r"^(\d+) bytes", err, re.M)
        nbytes = int(m.group(1)) if m else 0
        st = _status(rc, to)
        if st == "ok" and nbytes != ctx.v.big:
            st, err = "error", "read %d of %d bytes" % (nbytes, ctx.v.big)
        out.append(ctx.record("dd 1 GiB", phase, "throughput", "MB/s",
                              nbytes / secs / 1e6 if st == "ok" else None, secs, nbytes, stats,
                              status=st, note=err.strip()[-200:] if st != "ok" else ""))
    return out


def _fio(ctx: Ctx, job: str, path: Path, runtime: int, label: str, phase: str, metric: str):
    size = {D.BIG: ctx.v.big, D.BIG2: ctx.v.big2, D.TABLE: ctx.v.table}[path.name]
    logdir = ctx.system.work / "fio-logs"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    env = dict(os.environ, FILE=str(path), RUNTIME=str(runtime), QUARTER=str(size // 4),
               IOPSLOG=str(logdir / "job"))
    ctx.drop_caches()
    ctx.reset()
    rc, out, err, secs, to = ctx.run(
        ["fio", "--readonly", "--output-format=json", str(FIO_DIR / job)], runtime + 120, env=env)
    stats = ctx.fetched()
    st = _status(rc, to)
    try:
        res = json.loads(out[out.index("{"):])
        job0 = res["jobs"][0]["read"]
    except (ValueError, KeyError, IndexError):
        return [ctx.record(label, phase, metric, "", None, secs, 0, stats,
                           status="error" if st == "ok" else st, note=(err or out)[-300:])]
    nbytes = job0["io_bytes"]
    runtime_s = job0["runtime"] / 1000.0
    lat = job0.get("clat_ns", {}).get("percentile", {})
    extra = {"iops": job0["iops"], "ios": job0.get("total_ios"),
             "p50_ms": lat.get("50.000000", 0) / 1e6, "p99_ms": lat.get("99.000000", 0) / 1e6}
    if metric == "completion":
        value, unit, higher = runtime_s, "s", False
    elif metric == "iops":
        value, unit, higher = job0["iops"], "IOPS", True
    else:
        value, unit, higher = job0["bw_bytes"] / 1e6, "MB/s", True
    recs = [ctx.record(label, phase, metric, unit, value if st == "ok" else None, runtime_s,
                       nbytes, stats, higher=higher, status=st,
                       note=err.strip()[-200:] if st != "ok" else "", **extra)]
    early = _first_seconds_iops(logdir, FIRST_SECONDS)
    if st == "ok" and early is not None:
        bs = job0["bw_bytes"] / job0["iops"] if job0["iops"] else 0
        value = early if metric == "iops" else early * bs / 1e6
        recs.append(ctx.record(label, "%s, first %d s" % (phase, FIRST_SECONDS), metric, unit,
                               value, FIRST_SECONDS, 0, None, higher=higher))
    return recs


FIRST_SECONDS = 2


def _first_seconds_iops(logdir: Path, seconds: int):
    """Sum over jobs of each job's mean IOPS in its first `seconds` one-second log entries."""
    total, jobs = 0.0, 0
    for log in sorted(logdir.glob("job_iops.*.log")):
        vals = []
        for line in log.read_text().splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) >= 2 and int(parts[0]) <= seconds * 1000 + 500:
                vals.append(float(parts[1]))
        if vals:
            total += sum(vals[:seconds]) / len(vals[:seconds])
            jobs += 1
    return total if jobs else None


def fio_seq1(ctx):
    return _fio(ctx, "seq-1m-1job.fio", ctx.root / D.BIG, ctx.limits.fio_seq,
                "fio seq 1M x1", "cold", "throughput")


def fio_seq4(ctx):
    return _fio(ctx, "seq-1m-4jobs.fio", ctx.root / D.BIG, ctx.limits.fio_seq,
                "fio seq 1M x4", "cold", "throughput")


def fio_rand4k(ctx):
    return _fio(ctx, "rand-4k-4jobs.fio", ctx.root / D.TABLE, ctx.limits.fio_rand,
                "fio rand 4K x4", "cold", "iops")


def fio_rand64k(ctx):
    return _fio(ctx, "rand-64k-4jobs.fio", ctx.root / D.TABLE, ctx.limits.fio_rand,
                "fio rand 64K x4", "cold", "throughput")


def fio_fixed(ctx):
    """Issue 4's fixed work: 2,000 random 64 KiB reads over the 2 GiB object, bandwidth-capped."""
    if ctx.proxy and ctx.fixed_bw:
        ctx.proxy.configure(bandwidth_mbps=ctx.fixed_bw)
    try:
        return _fio(ctx, "rand-64k-fixed.fio", ctx.root / D.BIG2, ctx.limits.fio_fixed,
                    "fio 2000x64K rand", "cold", "completion")
    finally:
        if ctx.proxy and ctx.fixed_bw:
            ctx.proxy.configure(bandwidth_mbps=ctx.base_bw)


def _loader_epoch(ctx, phase, count):
    args = [PYTHON, str(BENCH_DIR / "loader.py"), "--root", str(ctx.root / D.IMAGES),
            "--workers", "4", "--max-seconds", str(ctx.limits.epoch)]
    if count:
        args += ["--count", str(count)]
    ctx.drop_caches()
    ctx.reset()
    rc, out, err, secs, to = ctx.run(args, ctx.limits.epoch + 240)
    stats = ctx.fetched()
    try:
        res = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return None, ctx.record("loader", phase, "images/s", "img/s", None, secs, 0, stats,
                                status="timeout" if to else "error",
                                note=(err or out).strip()[-300:])
    st = "ok" if rc == 0 and not to else ("timeout" if to else "error")
    note = ""
    if res["label_mismatches"]:
        note = "%d images decoded to the wrong class" % res["label_mismatches"]
    elif res["capped"]:
        note = "time cap: %d of %d images" % (res["images"], res["planned"])
    per_file = {}
    if stats:
        n = max(1, res["images"])
        req = stats["requests"]
        per_file = {"gets_per_file": (req["GET"] + req["GET_RANGE"]) / n,
                    "heads_per_file": req["HEAD"] / n}
    rec = ctx.record("loader 4 workers", phase, "images/s", "img/s",
                     res["images_per_s"] if st == "ok" else None, res["seconds"], res["bytes"],
                     stats, status=st, note=note or err.strip()[-200:] if st != "ok" else note,
                     images=res["images"], scan_seconds=res["scan_seconds"], **per_file)
    return res, rec


def loader(ctx):
    """Epoch 1 cold (new mount, empty cache), epoch 2 warm (page cache dropped, same images)."""
    res1, rec1 = _loader_epoch(ctx, "epoch 1 cold", 0)
    if res1 is None or not res1["images"]:
        return [rec1]
    count = res1["images"] if res1["capped"] else 0
    _res2, rec2 = _loader_epoch(ctx, "epoch 2 warm", count)
    return [rec1, rec2]


def _meta(ctx, tree, argv, label):
    """Cold (first on a new mount) and warm (repeat) runs of a metadata walk over a tree."""
    out = []
    for phase in ("cold", "warm"):
        if phase == "cold":
            ctx.drop_caches()
        ctx.reset()
        rc, stdout, err, secs, to = ctx.run(argv + [str(ctx.root / tree)], ctx.limits.command)
        stats = ctx.fetched()
        entries = stdout.count("\n")
        st = _status(rc, to)
        out.append(ctx.record(label, phase, "time", "s", secs if st == "ok" else None, secs, 0,
                              stats, higher=False, status=st, entries=entries,
                              note=err.strip()[-200:] if st != "ok" else ""))
    return out


def find_images(ctx):
    return _meta(ctx, D.IMAGES, ["find"], "find images")


def find_tiny(ctx):
    return _meta(ctx, D.TINY, ["find"], "find tiny")


def ls_images(ctx):
    return _meta(ctx, D.IMAGES, ["ls", "-lR"], "ls -lR images")


def ls_tiny(ctx):
    return _meta(ctx, D.TINY, ["ls", "-lR"], "ls -lR tiny")


def _curl_record(ctx, size: int, total: int, secs: float, errors: list[str]):
    """The record of a reference read by curl: ok when it got all `size` bytes."""
    stats = ctx.fetched()
    st = "ok" if not errors and total == size else "error"
    return [ctx.record("dd 1 GiB", "cold", "throughput", "MB/s",
                       total / secs / 1e6 if st == "ok" else None, secs, total, stats, status=st,
                       note="; ".join(errors)[-200:] or ("got %d bytes" % total
                                                         if st != "ok" else ""))]


def curl8(ctx, url: str, size: int, sigv4: tuple[str, str, str] | None):
    """The server limit: 8 parallel ranged GETs of the 1 GiB object through the proxy."""
    ctx.drop_caches()
    ctx.reset()
    part = (size + 7) // 8
    procs = []
    t0 = time.monotonic()
    for i in range(8):
        lo, hi = i * part, min(size, (i + 1) * part) - 1
        args = ["curl", "-sS", "--fail", "-o", "/dev/null", "-r", "%d-%d" % (lo, hi),
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                "-w", "%{size_download}\n"]
        if sigv4:
            args += ["--aws-sigv4", "aws:amz:%s:s3" % sigv4[0], "--user",
                     "%s:%s" % (sigv4[1], sigv4[2])]
        procs.append(ctx.reaper.popen(args + [url], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))
    total, errors = 0, []
    for p in procs:
        try:
            out, err = p.communicate(timeout=ctx.limits.command)
            total += int(out.strip() or 0)
            if p.returncode:
                errors.append(err.decode(errors="replace").strip())
        except subprocess.TimeoutExpired:
            errors.append("timeout")
        ctx.reaper.stop(p)
    secs = time.monotonic() - t0
    return _curl_record(ctx, size, total, secs, errors)


def curl_parts(ctx, url: str, size: int, sigv4: tuple[str, str, str] | None,
               part: int = 16 << 20, parallel: int = 8):
    """strata's steady-state request shape without FUSE: ranged GETs of `part` bytes,
    `parallel` at a time, from one curl process (keep-alive) into /dev/null. What a client that
    pays no kernel page cache, no FUSE round trip and no cache fill reads with those requests:
    the ceiling for strata's request shape on that server."""
    ctx.drop_caches()
    ctx.reset()
    lines = []
    for i, lo in enumerate(range(0, size, part)):
        if i:
            lines.append("next")
        lines += ['url = "%s"' % url, 'range = "%d-%d"' % (lo, min(size, lo + part) - 1),
                  'output = "/dev/null"', "silent", "show-error", "fail",
                  'header = "x-amz-content-sha256: UNSIGNED-PAYLOAD"',
                  'write-out = "%{size_download}\\n"']
        if sigv4:
            lines += ['aws-sigv4 = "aws:amz:%s:s3"' % sigv4[0],
                      'user = "%s:%s"' % (sigv4[1], sigv4[2])]
    cfg = ctx.system.work / "curl-parts.cfg"  # holds the secret key: owner only
    cfg.unlink(missing_ok=True)
    with os.fdopen(os.open(cfg, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write("\n".join(lines) + "\n")
    try:
        t0 = time.monotonic()
        p = ctx.reaper.popen(["curl", "--parallel", "--parallel-max", str(parallel), "-K",
                              str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(timeout=ctx.limits.command)
            errors = [err.decode(errors="replace").strip()] if p.returncode else []
        except subprocess.TimeoutExpired:
            out, errors = b"", ["timeout"]
            ctx.reaper.stop(p)
            p.communicate()  # drains and closes the pipes
        ctx.reaper.stop(p)
        secs = time.monotonic() - t0
    finally:
        cfg.unlink(missing_ok=True)
    total = sum(int(x) for x in out.split() if x.isdigit())
    return _curl_record(ctx, size, total, secs, errors)


WORKLOADS = {
    # name: (function, needs a new mount with an empty cache first)
    "dd": (dd, True),
    "fio_seq1": (fio_seq1, True),
    "fio_seq4": (fio_seq4, True),
    "fio_rand4k": (fio_rand4k, True),
    "fio_rand64k": (fio_rand64k, True),
    "fio_fixed": (fio_fixed, True),
    "loader": (loader, True),
    "find_images": (find_images, True),
    "find_tiny": (find_tiny, True),
    "ls_images": (ls_images, True),
    "ls_tiny": (ls_tiny, True),
}
GROUPS = {
    "fio": ["fio_seq1", "fio_seq4", "fio_rand4k", "fio_rand64k", "fio_fixed"],
    "meta": ["find_images", "find_tiny", "ls_images", "ls_tiny"],
    "find": ["find_images", "find_tiny"],
    "ls": ["ls_images", "ls_tiny"],
}
