"""Cold sequential reads in interleaved rounds, with the CPU every process spent.

The single cold `dd` of the `dd` workload is one sample on a noisy, CPU-bound machine: on a
2-core box the server (s3rver is one node process), the proxy and the filesystem share the
cores, and a fresh node process serves its first GiB slower (its JIT is still warming up).
This workload makes the cold-sequential comparison robust:

1. warm-up: one untimed 8-stream read of the object straight from the server;
2. N rounds; each round reads the 1 GiB object cold once per contender, back to back:
   8 parallel ranged curl GETs through the proxy (the limit), strata's steady-state request
   shape from one curl process (GETs of 16 MiB, 8 at a time: what a client without FUSE, page
   cache or cache fill gets with those requests), then `dd bs=1M` on a fresh mount with an
   empty cache (page cache dropped) of each filesystem;
3. per read: MB/s, and the CPU seconds (user + system, all threads) of the server, the proxy
   and the filesystem's daemon while it ran, from /proc/PID/stat;
4. a `median` record per contender; the `vs` ratios of the report use it.

Interleaving means a slow stretch of the machine hits every contender in the same round.
The CPU columns show where the ceiling is: when the server alone needs ~1 core-second per
300 MB, no client can read faster than that from it.
"""

from __future__ import annotations

import os
import re
import statistics

import datasets as D
import workloads as W

WORKLOAD = "dd 1 GiB, rounds"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU of a process (all its threads), or None if it is gone."""
    if not pid:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return None


class CpuMeter:
    """CPU seconds spent by named processes between start() and stop()."""

    def __init__(self, pids: dict[str, int | None]):
        self.pids = pids
        self.t0: dict[str, float | None] = {}

    def start(self):
        self.t0 = {k: cpu_seconds(p) for k, p in self.pids.items()}

    def stop(self) -> dict[str, float]:
        out = {}
        for k, p in self.pids.items():
            now = cpu_seconds(p)
            if now is not None and self.t0.get(k) is not None:
                out[k] = round(now - self.t0[k], 2)
        return out


def _dd_cold(ctx: W.Ctx, meter: CpuMeter):
    path = ctx.root / D.BIG
    ctx.drop_caches()
    ctx.reset()
    meter.start()
    rc, _o, err, secs, to = ctx.run(["dd", "if=%s" % path, "of=/dev/null", "bs=1M"],
                                    ctx.limits.command)
    cpu = meter.stop()
    stats = ctx.fetched()
    m = re.search(r"^(\d+) bytes", err, re.M)
    nbytes = int(m.group(1)) if m else 0
    st = "timeout" if to else ("ok" if rc == 0 else "error")
    if st == "ok" and nbytes != ctx.v.big:
        st, err = "error", "read %d of %d bytes" % (nbytes, ctx.v.big)
    return nbytes / secs / 1e6 if st == "ok" else None, secs, nbytes, stats, st, \
        (err.strip()[-200:] if st != "ok" else ""), cpu


def run(rounds: int, systems, curl_ctx: W.Ctx, parts_ctx: W.Ctx, direct_ctx: W.Ctx, url: str,
        direct_url: str, sig, server_pid: int | None, proxy_pid: int | None, make_ctx, log):
    """Returns the records: one per read ("cold, round k") and one median per contender."""
    log("rounds: warm-up, one untimed read of %s straight from the server" % D.BIG)
    W.curl8(direct_ctx, direct_url, curl_ctx.v.big, sig)
    samples: dict[str, list] = {}
    out = []

    def keep(rec, cpu):
        rec["cpu_s"] = cpu
        out.append(rec)
        samples.setdefault(rec["system"], []).append(rec)

    # The filesystems take turns going first, so no one always follows curl. A read right
    # after another filesystem's can be slower on a small VM, and rotations alone keep the
    # cyclic order (with a, b, c: b never follows c). So: the rotations of the list, then
    # those of the reversed list: with three, six rounds let each follow each other twice.
    orders = [systems[i:] + systems[:i] for i in range(len(systems))]
    rev = systems[::-1]
    orders += [rev[i:] + rev[:i] for i in range(len(rev))] if len(systems) > 2 else []
    orders = orders or [[]]
    for k in range(1, rounds + 1):
        phase = "cold, round %d" % k
        for reference, ctx in ((W.curl8, curl_ctx), (W.curl_parts, parts_ctx)):
            meter = CpuMeter({"server": server_pid, "proxy": proxy_pid})
            meter.start()
            recs = reference(ctx, url, ctx.v.big, sig)
            cpu = meter.stop()
            for r in recs:
                r["workload"], r["phase"] = WORKLOAD, phase
                keep(r, cpu)
        for s in orders[(k - 1) % len(orders)]:
            ctx = make_ctx(s)
            try:
                s.mount_fresh()
                meter = CpuMeter({"server": server_pid, "proxy": proxy_pid,
                                  "client": s.proc.pid if s.proc else None})
                val, secs, nbytes, stats, st, note, cpu = _dd_cold(ctx, meter)
                keep(ctx.record(WORKLOAD, phase, "throughput", "MB/s", val, secs, nbytes, stats,
                                status=st, note=note), cpu)
            except Exception as e:  # noqa: BLE001 - record it, go on with the next contender
                log("%s: round %d failed: %s" % (s.name, k, e))
                keep(ctx.record(WORKLOAD, phase, "throughput", "MB/s", None, 0, 0, None,
                                status="error", note=str(e)[-300:]), {})
            finally:
                s.unmount()
        log("rounds: round %d: %s" % (k, ", ".join(
            "%s %s" % (name, "%.0f" % recs[-1]["value"] if recs[-1]["value"] else "-")
            for name, recs in samples.items())))

    for name, recs in samples.items():
        ok = [r for r in recs if r["status"] == "ok" and r["value"]]
        if not ok:
            continue
        med = statistics.median(r["value"] for r in ok)
        cpu = {}
        for key in ("server", "proxy", "client"):
            per_gib = [r["cpu_s"][key] / (r["bytes_read"] / 2**30)
                       for r in ok if key in r.get("cpu_s", {}) and r["bytes_read"]]
            if per_gib:
                cpu[key] = round(statistics.median(per_gib), 2)
        # Bytes and requests of the round whose throughput is the (lower) median.
        middle = sorted(ok, key=lambda r: r["value"])[(len(ok) - 1) // 2]
        rec = dict(middle, phase="cold, median", value=med,
                   seconds=statistics.median(r["seconds"] for r in ok), cpu_s_per_gib=cpu,
                   samples=[r["value"] for r in ok], note="")
        rec.pop("cpu_s", None)
        out.append(rec)
    return out


def table(records) -> list[str]:
    """Markdown lines: every round of every contender, and the CPU it cost."""
    recs = [r for r in records if r["workload"] == WORKLOAD]
    if not recs:
        return []
    lines = ["## Cold sequential reads in rounds (%s)" % WORKLOAD, "",
             "Each round reads the 1 GiB object once per contender, back to back (a fresh mount, "
             "empty cache, page cache dropped). CPU = user + system seconds of the server "
             "(s3rver), the proxy and the filesystem's daemon while that read ran, per GiB.",
             "", "| contender | phase | MB/s | server CPU s/GiB | proxy CPU s/GiB | "
             "client CPU s/GiB |", "|---|---|---|---|---|---|"]
    for r in recs:
        if r["phase"] == "cold, median":
            c = r.get("cpu_s_per_gib", {})
            vals = ", ".join("%.0f" % v for v in r.get("samples", []))
            lines.append("| **%s** | median of %s | **%.0f** | %s | %s | %s |" % (
                r["system"], vals, r["value"], c.get("server", ""), c.get("proxy", ""),
                c.get("client", "")))
            continue
        gib = (r["bytes_read"] or 0) / 2**30
        c = r.get("cpu_s", {})

        def per(key):
            return "%.2f" % (c[key] / gib) if key in c and gib else ""

        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            r["system"], r["phase"], "%.0f" % r["value"] if r["value"] else r["status"],
            per("server"), per("proxy"), per("client")))
    lines.append("")
    return lines

