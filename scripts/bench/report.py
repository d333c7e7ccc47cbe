#!/usr/bin/python3
"""Turns a run's results.json into results.md (tables) and chart.png (ratios).

    /usr/bin/python3 scripts/bench/report.py results/<stamp>     # regenerate from the JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import rounds

ORDER = ["local", "curl x8 direct", "curl x8", "curl 16M x64", "strata", "s3fs", "rclone"]
PEERS = ["s3fs", "rclone"]
REMOTE = ["strata", "s3fs", "rclone"]


def _rows(records):
    """{(workload, phase): {system: record}} in first-seen order."""
    rows = {}
    for r in records:
        if r["phase"] == "-":
            continue
        if r["workload"] == rounds.WORKLOAD and r["phase"] != "cold, median":
            continue  # every round is in its own table
        rows.setdefault((r["workload"], r["phase"]), {})[r["system"]] = r
    return rows


def _fmt(r):
    if r is None:
        return ""
    if r["value"] is None:
        return r["status"]
    v = r["value"]
    s = ("%.2f" % v) if r["unit"] == "s" else ("%.0f" % v if v >= 10 else "%.2g" % v)
    if r.get("note") and r["status"] == "ok":
        s += "*"
    return s


def _goodness(r):
    """A 'higher is better' number for a record, or None."""
    if r is None or r["value"] is None or r["value"] <= 0:
        return None
    return r["value"] if r["higher_is_better"] else 1.0 / r["value"]


def _limit(cells, workload, phase):
    if workload.startswith("dd") and phase.startswith("cold") and "curl x8" in cells:
        return cells["curl x8"]
    return cells.get("local")


def ratios(cells, workload, phase):
    """(strata vs best peer, strata vs limit, limit name) as 'higher is better' factors."""
    s = _goodness(cells.get("strata"))
    peers = [g for g in (_goodness(cells.get(p)) for p in PEERS) if g]
    lim_rec = _limit(cells, workload, phase)
    lim = _goodness(lim_rec)
    vs_peer = s / max(peers) if s and peers else None
    vs_lim = s / lim if s and lim else None
    return vs_peer, vs_lim, (lim_rec["system"] if lim_rec else "")


def _mib(n):
    return "%.0f" % (n / 2**20) if n >= 10 * 2**20 else "%.1f" % (n / 2**20)


def markdown(res):
    recs = res["records"]
    rows = _rows(recs)
    systems = [s for s in ORDER if any(s in c for c in rows.values())]
    st = res["settings"]
    lines = ["# strata benchmark, %s" % res["date"], ""]
    m = res["machine"]
    lines.append("Machine: %s, %s cores, %s GiB RAM, kernel %s. Run status: %s, %.0f s." % (
        m["cpu"], m["cores"], m["memory_gib"], m["kernel"], res["status"],
        res.get("elapsed_s", 0)))
    lines.append("")
    lines.append("Settings: dataset `%s`, proxy latency %g ms, bandwidth %s (fixed-work job: %s), "
                 "page cache dropped: %s, through proxy: %s." % (
                     st.get("variant"), st["latency_ms"],
                     "%g MB/s" % st["bandwidth_mbps"] if st["bandwidth_mbps"] else "unlimited",
                     "%g MB/s" % st["fixed_bandwidth_mbps"] if st["fixed_bandwidth_mbps"]
                     else "run's cap", st.get("dropped_caches"), st.get("through_proxy")))
    lines.append("")
    lines.append("Command: `%s`" % res["command"])
    lines.append("")
    vers = "; ".join("%s: %s" % (k, v) for k, v in res["versions"].items() if v)
    lines.append("Versions: %s" % vers)
    lines.append("")
    lines.append("Higher is better except rows in s (seconds). `vs peer` = strata's factor over "
                 "the better of s3fs and rclone (>1: strata is better); `vs limit` = strata as a "
                 "fraction of the limit (curl x8 = 8 parallel ranged GETs through the same proxy "
                 "for cold sequential reads, local = the same workload on a local copy). "
                 "`curl 16M x64` (rounds only) = strata's request shape, 16 MiB ranged GETs 8 at "
                 "a time, from one curl process into /dev/null: no FUSE, page cache or cache "
                 "fill. `*` = see notes.")
    lines.append("")
    head = ["workload", "phase", "unit"] + systems + ["vs peer", "vs limit"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for (w, ph), cells in rows.items():
        unit = next(iter(cells.values()))["unit"]
        vs_peer, vs_lim, lim_name = ratios(cells, w, ph)
        row = [w, ph, unit] + [_fmt(cells.get(s)) for s in systems]
        row.append("%.2fx" % vs_peer if vs_peer else "")
        row.append("%.0f%% of %s" % (100 * vs_lim, lim_name) if vs_lim else "")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")

    lines += rounds.table(recs)

    remote = [s for s in REMOTE if s in systems]
    if any(r.get("fetched_bytes") is not None for r in recs):
        lines.append("## Bytes fetched from the server vs bytes read (proxy counters)")
        lines.append("")
        lines.append("Each cell: MiB fetched (fetched / read) and requests: G = GET (whole or "
                     "ranged), H = HEAD, L = LIST.")
        lines.append("")
        lines.append("| workload | phase | " + " | ".join(remote) + " |")
        lines.append("|---|---|" + "---|" * len(remote))
        for (w, ph), cells in rows.items():
            out = []
            for s in remote:
                r = cells.get(s)
                if r is None or r.get("fetched_bytes") is None:
                    out.append("")
                    continue
                req = r["requests"] or {}
                cell = "%s MiB" % _mib(r["fetched_bytes"])
                if r["bytes_read"]:
                    cell += " (x%.2f)" % (r["fetched_bytes"] / r["bytes_read"])
                cell += " %dG %dH %dL" % (req.get("GET", 0) + req.get("GET_RANGE", 0),
                                          req.get("HEAD", 0), req.get("LIST", 0))
                if "gets_per_file" in r:
                    cell += "; %.2f G/file %.2f H/file" % (r["gets_per_file"],
                                                            r["heads_per_file"])
                out.append(cell)
            if any(out):
                lines.append("| %s | %s | %s |" % (w, ph, " | ".join(out)))
        lines.append("")
    notes = [r for r in recs if r.get("note")]
    if notes or res.get("skipped"):
        lines.append("## Notes")
        lines.append("")
        for s in res.get("skipped", []):
            lines.append("- %s: not installed or not built, skipped" % s)
        for r in notes:
            lines.append("- %s / %s / %s: %s %s" % (r["system"], r["workload"], r["phase"],
                                                    r["status"], r["note"].replace("\n", " ")))
        lines.append("")
    return "\n".join(lines)


def chart(res, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = _rows(res["records"])
    systems = [s for s in REMOTE if any(s in c for c in rows.values())]
    labels, series = [], {s: [] for s in systems}
    amp_labels, amp = [], {s: [] for s in systems}
    for (w, ph), cells in rows.items():
        lim = _goodness(_limit(cells, w, ph))
        if lim:
            labels.append("%s\n%s" % (w, ph))
            for s in systems:
                g = _goodness(cells.get(s))
                series[s].append(g / lim if g else 0)
        read_recs = [cells.get(s) for s in systems]
        if any(r and r.get("fetched_bytes") is not None and r["bytes_read"] for r in read_recs) \
                and ph in ("cold", "epoch 1 cold"):
            amp_labels.append("%s\n%s" % (w, ph))
            for s in systems:
                r = cells.get(s)
                ok = r and r.get("fetched_bytes") is not None and r["bytes_read"]
                amp[s].append(r["fetched_bytes"] / r["bytes_read"] if ok else 0)
    colors = {"strata": "#1f77b4", "s3fs": "#ff7f0e", "rclone": "#2ca02c"}
    fig, axes = plt.subplots(2, 1, figsize=(max(10, 0.9 * len(labels) + 3), 10))
    for ax, lab, data, title, ylabel, ref in (
            (axes[0], labels, series, "Performance relative to the limit (curl x8 for cold "
             "sequential, local copy otherwise)", "fraction of limit (log)", 1.0),
            (axes[1], amp_labels, amp, "Bytes fetched from the server / bytes read (cold)",
             "amplification (log)", 1.0)):
        if not lab:
            ax.set_visible(False)
            continue
        width = 0.8 / max(1, len(systems))
        for i, s in enumerate(systems):
            xs = [x + (i - (len(systems) - 1) / 2) * width for x in range(len(lab))]
            vals = [v if v > 0 else float("nan") for v in data[s]]
            ax.bar(xs, vals, width, label=s, color=colors.get(s))
        ax.axhline(ref, color="black", linewidth=0.8, linestyle="--")
        ax.set_yscale("log")
        ax.set_xticks(range(len(lab)))
        ax.set_xticklabels(lab, fontsize=7)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=10)
        ax.legend(fontsize=8)
    st = res["settings"]
    fig.suptitle("strata vs peers, %s, latency %g ms, bandwidth %s" % (
        res["date"][:10], st["latency_ms"],
        "%g MB/s" % st["bandwidth_mbps"] if st["bandwidth_mbps"] else "unlimited"), fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(out_dir: Path, log=print) -> str:
    res = json.loads((out_dir / "results.json").read_text())
    md = markdown(res)
    (out_dir / "results.md").write_text(md)
    try:
        chart(res, out_dir / "chart.png")
    except ImportError as e:
        log("chart skipped: %s (apt install python3-matplotlib)" % e)
    return md


if __name__ == "__main__":
    print(write(Path(sys.argv[1])))
