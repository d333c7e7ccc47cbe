#!/usr/bin/python3
"""strata's benchmark: the same workloads on strata, s3fs-fuse, rclone mount and local copies.

Run it through scripts/bench/run.sh (which also cleans up after a crash). See README.md there.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parents[1]
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO / "scripts" / "lib"))

import datasets as D  # noqa: E402
import mounts as M  # noqa: E402
import report  # noqa: E402
import rounds as R  # noqa: E402
import workloads as W  # noqa: E402

ALL_SYSTEMS = ["local", "strata", "s3fs", "rclone"]


def parse_args(argv):
    ap = argparse.ArgumentParser(
        prog="run.sh", description="Benchmark strata against s3fs-fuse, rclone mount and local.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--only", default="",
                    help="comma list of workloads or groups (%s; groups: %s; limits = curl x8; "
                    "rounds = cold sequential reads of every system, curl x8 and curl 16M x64, "
                    "interleaved, --rounds times); default all"
                    % (",".join(W.WORKLOADS), ",".join(W.GROUPS)))
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of the `rounds` workload (median reported)")
    ap.add_argument("--systems", default=",".join(ALL_SYSTEMS),
                    help="comma list of %s (local = the local-copy limit)" % ",".join(ALL_SYSTEMS))
    ap.add_argument("--latency-ms", type=float, default=0.0, help="added per request by the proxy")
    ap.add_argument("--bandwidth-mbps", type=float, default=0.0,
                    help="proxy bandwidth cap in MB/s (10^6 B/s), 0 = none")
    ap.add_argument("--fixed-bandwidth-mbps", type=float, default=200.0,
                    help="bandwidth cap during the fixed-work random-read job (0 = run's cap)")
    ap.add_argument("--quick", action="store_true", help="smaller datasets and time caps")
    ap.add_argument("--cache-dir", default=os.environ.get("STRATA_BENCH_CACHE",
                                                          "/var/tmp/strata-bench"),
                    help="datasets and s3rver data, kept across runs")
    ap.add_argument("--out", help="results directory (default results/<UTC timestamp>)")
    ap.add_argument("--endpoint", help="a real S3 endpoint instead of a local s3rver")
    ap.add_argument("--bucket", help="bucket (default: bench, or bench-quick)")
    ap.add_argument("--prefix", default="", help="key prefix for the datasets in --bucket")
    ap.add_argument("--region", default=os.environ.get("AWS_REGION", "us-east-1"))
    ap.add_argument("--no-proxy", action="store_true",
                    help="connect straight to the endpoint (no shaping, no byte counters)")
    ap.add_argument("--strata", default=str(REPO / "build" / "src" / "cli" / "strata"),
                    help="the strata binary")
    ap.add_argument("--strata-args", default="", help="extra flags for `strata mount`")
    ap.add_argument("--no-drop-caches", action="store_true",
                    help="do not write /proc/sys/vm/drop_caches (cold/warm become approximate)")
    args = ap.parse_args(argv)
    selected = []
    for name in filter(None, (args.only or "").split(",")):
        if name in W.GROUPS:
            selected += W.GROUPS[name]
        elif name in W.WORKLOADS or name in ("limits", "rounds"):
            selected.append(name)
        else:
            ap.error("unknown workload %r" % name)
    args.workloads = selected or ["limits", "rounds"] + list(W.WORKLOADS)
    args.system_list = [s for s in args.systems.split(",") if s]
    for s in args.system_list:
        if s not in ALL_SYSTEMS:
            ap.error("unknown system %r" % s)
    if args.endpoint and not args.bucket:
        ap.error("--endpoint needs --bucket")
    if args.prefix and not args.prefix.endswith("/"):
        args.prefix += "/"
    return args


class Logger:
    def __init__(self, path: Path):
        self.f = path.open("a")
        self.t0 = time.monotonic()

    def __call__(self, msg):
        line = "[%6.1fs] %s" % (time.monotonic() - self.t0, msg)
        print(line, flush=True)
        self.f.write(line + "\n")
        self.f.flush()


def machine_info():
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"host": platform.node(), "kernel": platform.release(), "cpu": cpu,
            "cores": os.cpu_count(), "memory_gib": round(mem / 2**30, 1)}


def tool_versions():
    def first(args):
        try:
            r = subprocess.run(args, capture_output=True, text=True, timeout=20)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (OSError, subprocess.TimeoutExpired, IndexError):
            return None

    return {"fio": first(["fio", "--version"]), "curl": first(["curl", "--version"]),
            "s3fs": first(["s3fs", "--version"]), "rclone": first(["rclone", "version"]),
            "python": platform.python_version(),
            "torch": first([W.PYTHON, "-c", "import torch, torchvision; "
                            "print('torch', torch.__version__, 'torchvision', "
                            "torchvision.__version__)"])}


def start_proxy(reaper, work, out_dir, upstream_hostport, args, log):
    port_file = work / "proxy.port"
    port_file.unlink(missing_ok=True)
    log_path = out_dir / "proxy.log"
    cmd = [W.PYTHON, str(BENCH_DIR / "proxy.py"), "--upstream", upstream_hostport,
           "--latency-ms", str(args.latency_ms), "--bandwidth-mbps", str(args.bandwidth_mbps),
           "--port-file", str(port_file)]
    with log_path.open("wb") as lf:
        proc = reaper.popen(cmd, stdout=lf, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 15
    while not port_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("proxy did not start: %s" % log_path.read_text()[-500:])
        time.sleep(0.05)
    port = int(port_file.read_text())
    args.proxy_pid = proc.pid
    log("proxy on 127.0.0.1:%d -> %s (latency %g ms, bandwidth %s)" % (
        port, upstream_hostport, args.latency_ms,
        "%g MB/s" % args.bandwidth_mbps if args.bandwidth_mbps else "unlimited"))
    return "http://127.0.0.1:%d" % port


def make_systems(args, reaper, work, remote, local_root, log):
    out = []
    for name in args.system_list:
        if name == "local":
            out.append(M.Local(reaper, work, remote, log, local_root))
        elif name == "strata":
            out.append(M.Strata(reaper, work, remote, log, Path(args.strata),
                                shlex.split(args.strata_args)))
        elif name == "s3fs":
            out.append(M.S3fs(reaper, work, remote, log))
        elif name == "rclone":
            out.append(M.Rclone(reaper, work, remote, log))
    return out


def run(args, out_dir: Path, log, results: dict):
    cache = Path(args.cache_dir)
    variant = D.VARIANTS["quick" if args.quick else "full"]
    local_root = cache / "local" / variant.name
    work = cache / "work" / out_dir.name
    reaper = M.Reaper(work / "state")
    results["work_dir"] = str(work)
    server = None
    try:
        D.make_local(local_root, variant, log)
        if args.endpoint:
            import boto3

            region, bucket, prefix, endpoint = args.region, args.bucket, args.prefix, args.endpoint
            client = boto3.client("s3", endpoint_url=endpoint, region_name=region)
            creds = boto3.Session().get_credentials()
            if creds is None:
                raise RuntimeError("no AWS credentials for --endpoint (set AWS_ACCESS_KEY_ID...)")
            akey, skey = creds.access_key, creds.secret_key
            D.upload(client, bucket, prefix, local_root, log)
        else:
            from s3server import S3Server

            bucket, prefix, region = args.bucket or ("bench-quick" if args.quick else "bench"), \
                "", "us-east-1"
            state = cache / "s3rver"
            D.seed_s3rver(state / "data", bucket, local_root, log)
            server = S3Server(state, buckets=[bucket]).start()
            results["cleanup"].append(server.stop)
            endpoint = server.endpoint
            client = server.client()
            akey, skey = "S3RVER", "S3RVER"
            log("s3rver pid %d on %s" % (server.pid, endpoint))
        D.verify(client, bucket, prefix, local_root, variant)
        log("dataset verified through the S3 API (s3://%s/%s)" % (bucket, prefix))

        proxy_url, proxy = endpoint, None
        if not args.no_proxy and endpoint.startswith("http://"):
            upstream = endpoint[len("http://"):].rstrip("/")
            proxy_url = start_proxy(reaper, work, out_dir, upstream, args, log)
            proxy = W.ProxyClient(proxy_url)
        remote = M.Remote(proxy_url, bucket, prefix, region, akey, skey)
        limits = W.Limits()
        if args.quick:
            limits = W.Limits(command=180, fio_seq=30, fio_rand=8, fio_fixed=120, epoch=60)
        drop = not args.no_drop_caches and os.geteuid() == 0
        if not drop:
            log("warning: page cache is not dropped (not root or --no-drop-caches)")
        results["settings"].update(
            variant=variant.name, bucket=bucket, prefix=prefix, endpoint=endpoint,
            through_proxy=proxy is not None, dropped_caches=drop, limits=limits.__dict__,
            dataset={"big": variant.big, "big2": variant.big2, "table": variant.table,
                     "images": variant.images, "tiny": variant.tiny})
        systems = make_systems(args, reaper, work, remote, local_root, log)
        for s in systems:
            s.log_dir = out_dir / "logs"
        for s in systems:
            if s.available():
                results["versions"][s.name] = s.version()

        if "limits" in args.workloads:
            fake = M.System(reaper, work, remote, log)
            fake.name = "curl x8"
            ctx = W.Ctx(fake, variant, proxy, reaper, limits, log, 0, args.bandwidth_mbps, drop)
            url = "%s/%s/%s%s" % (proxy_url, bucket, prefix, D.BIG)
            sig = (region, akey, skey)
            log("limit: 8 parallel ranged curl GETs of %s" % D.BIG)
            add(results, W.curl8(ctx, url, variant.big, sig), log, out_dir)
            if proxy is not None:
                # The same straight to the server: shows what the proxy itself costs.
                fake.name = "curl x8 direct"
                ctx = W.Ctx(fake, variant, None, reaper, limits, log, 0, 0, drop)
                url = "%s/%s/%s%s" % (endpoint, bucket, prefix, D.BIG)
                add(results, W.curl8(ctx, url, variant.big, sig), log, out_dir)

        if "rounds" in args.workloads and args.rounds > 0:
            contenders = [s for s in systems if s.remote_backed and s.available()]
            fake = M.System(reaper, work, remote, log)
            fake.name = "curl x8"
            curl_ctx = W.Ctx(fake, variant, proxy, reaper, limits, log, 0, args.bandwidth_mbps,
                             drop)
            parts = M.System(reaper, work, remote, log)
            parts.name = "curl 16M x64"
            parts_ctx = W.Ctx(parts, variant, proxy, reaper, limits, log, 0, args.bandwidth_mbps,
                              drop)
            direct = M.System(reaper, work, remote, log)
            direct.name = "warm-up"
            direct_ctx = W.Ctx(direct, variant, None, reaper, limits, log, 0, 0, drop)
            sig = (region, akey, skey)
            try:
                recs = R.run(
                    args.rounds, contenders, curl_ctx, parts_ctx, direct_ctx,
                    "%s/%s/%s%s" % (proxy_url, bucket, prefix, D.BIG),
                    "%s/%s/%s%s" % (endpoint, bucket, prefix, D.BIG), sig,
                    server.pid if server is not None else None,
                    getattr(args, "proxy_pid", None) if proxy is not None else None,
                    lambda s: W.Ctx(s, variant, proxy, reaper, limits, log,
                                    args.fixed_bandwidth_mbps, args.bandwidth_mbps, drop), log)
            except Exception as e:  # noqa: BLE001 - record, keep going with the other workloads
                log("rounds failed: %s" % traceback.format_exc())
                recs = [curl_ctx.record(R.WORKLOAD, "-", "", "", None, 0, 0, None,
                                        status="error", note=repr(e)[-300:])]
            add(results, recs, log, out_dir)
            for s in contenders:
                s.clean()

        for s in systems:
            if not s.available():
                log("%s: not available, skipped" % s.name)
                results["skipped"].append(s.name)
                continue
            results["cleanup"].append(s.clean)
            ctx = W.Ctx(s, variant, proxy, reaper, limits, log, args.fixed_bandwidth_mbps,
                        args.bandwidth_mbps, drop)
            for name in args.workloads:
                if name in ("limits", "rounds"):
                    continue
                fn, fresh = W.WORKLOADS[name]
                log("%s: %s" % (s.name, name))
                try:
                    if fresh:
                        s.mount_fresh()
                    recs = fn(ctx)
                except M.MountError as e:
                    log("%s: mount failed: %s" % (s.name, e))
                    add(results, [ctx.record(name, "-", "", "", None, 0, 0, None,
                                             status="error", note=str(e)[-300:])], log, out_dir)
                    break
                except Exception as e:  # noqa: BLE001 - record, keep going with the next one
                    log("%s: %s failed: %s" % (s.name, name, traceback.format_exc()))
                    recs = [ctx.record(name, "-", "", "", None, 0, 0, None, status="error",
                                       note=repr(e)[-300:])]
                add(results, recs, log, out_dir)
            s.clean()
    finally:
        reaper.cleanup()
        if server is not None:
            server.stop()
        # Mountpoints, emptied caches, the s3fs passwd file: nothing worth keeping (logs are in
        # the results dir). Only when nothing is still mounted below it.
        if work.exists() and not any(M.is_mounted(p) for p in (work / "mnt").glob("*")):
            shutil.rmtree(work, ignore_errors=True)


def add(results, recs, log, out_dir):
    for r in recs:
        results["records"].append(r)
        val = "-" if r["value"] is None else "%.4g %s" % (r["value"], r["unit"])
        fetched = ""
        if r.get("fetched_bytes") is not None:
            req = r["requests"] or {}
            fetched = "  fetched %.1f MiB in %d GET %d HEAD %d LIST" % (
                r["fetched_bytes"] / 2**20, req.get("GET", 0) + req.get("GET_RANGE", 0),
                req.get("HEAD", 0), req.get("LIST", 0))
        log("  %-8s %-20s %-13s %s%s%s" % (r["system"], r["workload"], r["phase"], val, fetched,
                                           "" if r["status"] == "ok" else
                                           "  [%s: %s]" % (r["status"], r["note"])))
    save(results, out_dir)


def save(results, out_dir):
    tmp = out_dir / "results.json.tmp"
    data = {k: v for k, v in results.items() if k != "cleanup"}
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(out_dir / "results.json")


def main(argv):
    args = parse_args(argv)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(args.out) if args.out else REPO / "results" / stamp
    out_dir.mkdir(parents=True, exist_ok=True)
    log = Logger(out_dir / "bench.log")

    def on_term(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "scripts/bench/run.sh " + " ".join(shlex.quote(a) for a in argv),
        "machine": machine_info(), "versions": tool_versions(),
        "settings": {"latency_ms": args.latency_ms, "bandwidth_mbps": args.bandwidth_mbps,
                     "fixed_bandwidth_mbps": args.fixed_bandwidth_mbps,
                     "systems": args.system_list, "workloads": args.workloads},
        "records": [], "skipped": [], "cleanup": [], "status": "running",
    }
    log("results in %s" % out_dir)
    t0 = time.monotonic()
    code = 0
    try:
        run(args, out_dir, log, results)
        results["status"] = "complete"
    except KeyboardInterrupt as e:
        results["status"] = "interrupted"
        log("interrupted (%s); cleaning up" % (e or "Ctrl-C"))
        code = 130
    except Exception:  # noqa: BLE001
        results["status"] = "failed"
        log("failed: %s" % traceback.format_exc())
        code = 1
    finally:
        # Another Ctrl-C during cleanup must not leave mounts behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for fn in reversed(results["cleanup"]):
            try:
                fn()
            except Exception:  # noqa: BLE001
                log("cleanup: %s" % traceback.format_exc())
        results["elapsed_s"] = time.monotonic() - t0
        save(results, out_dir)
    if results["records"]:
        table = report.write(out_dir, log)
        print(table)
    log("done in %.0f s: %s" % (results["elapsed_s"], out_dir))
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
