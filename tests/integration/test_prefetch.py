"""What the prefetcher asks of the store, counted at the proxy (issue 4): a sequential dd, random
64 KiB preads, many small files read whole, and reads through injected 503s and cut bodies.

Every test mounts fresh (memory cache only, nothing cached yet) through the counting proxy and
resets the proxy's counters after the mount.
"""

import hashlib
import os
import random
import subprocess
import threading
import time
import unittest
from pathlib import Path

from harness import strata_daemon_pids
from proxied import ProxiedTestCase, metric, read_metrics

BUCKET = "prefetch"
BIG = "big/64MiB.bin"
BIG_SIZE = 64 << 20
MID = "mid/20MiB.bin"
MID_SIZE = 20 << 20
SMALL_COUNT = 100
SMALL_SIZE = 100 << 10
PAGE = 64 << 10
# (e) 64 concurrent sequential readers over 8 objects of 32 MiB (8 streams per object at
# different offsets), with a 64 MiB memory tier and a 128 MiB readahead budget: the issue's
# bound on the daemon's RSS is memory tier + budget + 128 MiB.
STREAM_OBJECTS = 8
STREAM_SIZE = 32 << 20
READERS = 64
MEMORY_MIB, BUDGET_MIB = 64, 128

# (a) 64 MiB in 8 MiB parts is 8 GETs; a young window is cut into smaller parts, and how fast
# it grows depends on whether parts land before dd reaches them, so 18-22 GETs were seen here
# (a client that GETs each 1 MiB read would make 64).
SEQUENTIAL_MAX_GETS = 24
# (b) Random reads may cost, besides the pages they touch (x1.3 for coalescing), one initial
# request of up to the first-request size (about 1 MiB, sent before the detector has seen a
# second read) and one footer fetch: 2 MiB in all.
RANDOM_ALLOWANCE = 2 << 20


def body(key: str, size: int) -> bytes:
    return random.Random(key).randbytes(size)


class PrefetchTest(ProxiedTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_bucket(cls, BUCKET)
        cls.big = body(BIG, BIG_SIZE)
        cls.mid = body(MID, MID_SIZE)
        cls.small = {f"small/img_{i:03d}.jpg": body(f"s{i}", SMALL_SIZE)
                     for i in range(SMALL_COUNT)}
        cls.streams = {f"streams/s{i}.bin": body(f"st{i}", STREAM_SIZE)
                       for i in range(STREAM_OBJECTS)}
        cls.srv.put_objects(BUCKET, {BIG: cls.big, MID: cls.mid, **cls.small, **cls.streams})

    def fresh_mount(self, extra=()) -> tuple[Path, Path]:
        n = len(list(self.work.glob("*.prom")))
        metrics = self.work / f"m{n}.prom"
        mp = self.mount_proxied(f"s3://{BUCKET}", extra=["--metrics-file", str(metrics),
                                                         "--metadata-ttl", "60", *extra])
        self.proxy.reset()
        return mp, metrics

    def test_a_sequential_dd(self):
        mp, metrics = self.fresh_mount()
        t0 = time.monotonic()
        res = subprocess.run(["dd", f"if={mp / BIG}", "of=/dev/null", "bs=1M"],
                             capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - t0
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(f"{BIG_SIZE} bytes", res.stderr)
        s = self.proxy.stats()
        gets, fetched = self.proxy.data_gets(s), self.proxy.data_bytes(s)
        self.unmount(mp)
        m = read_metrics(metrics)
        print(f"  dd 64 MiB in {elapsed:.2f}s: {self.proxy.summary(s)}; sequential reads "
              f"{metric(m, 'strata_reads_total', pattern='sequential'):.0f}, random "
              f"{metric(m, 'strata_reads_total', pattern='random'):.0f}")
        self.assertLessEqual(gets, SEQUENTIAL_MAX_GETS,
                             f"too many GETs for one sequential read: {gets}")
        self.assertGreaterEqual(fetched, BIG_SIZE)
        self.assertLessEqual(fetched, 1.1 * BIG_SIZE, f"fetched {fetched} for {BIG_SIZE}")
        self.assertGreater(metric(m, "strata_reads_total", pattern="sequential"), 0)
        self.assertEqual(metric(m, "strata_reads_total", pattern="random"), 0)

    def test_b_random_preads(self):
        mp, metrics = self.fresh_mount()
        rng = random.Random(4)
        offsets = [p * PAGE for p in rng.sample(range(BIG_SIZE // PAGE), 200)]
        fd = os.open(mp / BIG, os.O_RDONLY)
        try:
            # As fio does for random jobs (fadvise_hint): the kernel's own readahead is off, so
            # what the proxy sees is strata's doing.
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            for i, off in enumerate(offsets):
                got = os.pread(fd, PAGE, off)
                if got != self.big[off:off + PAGE]:
                    self.fail(f"pread #{i} at {off}: wrong bytes")
        finally:
            os.close(fd)
        time.sleep(0.3)  # let anything the reads started land before counting
        s = self.proxy.stats()
        self.unmount(mp)
        m = read_metrics(metrics)
        read = len(offsets) * PAGE
        fetched = self.proxy.data_bytes(s)
        bound = 1.3 * read + RANDOM_ALLOWANCE
        readahead = metric(m, "strata_readahead_bytes_total")
        print(f"  200 random 64 KiB preads: {self.proxy.summary(s)}; fetched/read "
              f"{fetched / read:.2f} (bound {bound / read:.2f}); readahead {readahead:.0f} bytes; "
              f"reads random {metric(m, 'strata_reads_total', pattern='random'):.0f} sequential "
              f"{metric(m, 'strata_reads_total', pattern='sequential'):.0f}")
        self.assertLessEqual(fetched, bound)
        self.assertLessEqual(readahead, RANDOM_ALLOWANCE, "readahead ran for random reads")
        self.assertGreaterEqual(metric(m, "strata_reads_total", pattern="random"), 190)

    def test_c_small_files_one_get_each(self):
        mp, _ = self.fresh_mount()
        # As an ImageFolder does: list the root, then the class directory, then read. Every
        # lookup below is answered by a cached listing (without one, a lookup may HEAD the key).
        self.assertIn("small", os.listdir(mp))
        names = sorted(os.listdir(mp / "small"))
        self.assertEqual(len(names), SMALL_COUNT)
        after_list = self.proxy.stats()
        for name in names:
            with open(mp / "small" / name, "rb") as f:
                got = f.read()
            if got != self.small[f"small/{name}"]:
                self.fail(f"small/{name}: wrong bytes")
        s = self.proxy.stats()
        self.unmount(mp)
        print(f"  readdir: {self.proxy.summary(after_list)}\n  + {SMALL_COUNT} whole-file reads: "
              f"{self.proxy.summary(s)}")
        self.assertEqual(self.proxy.data_gets(s), SMALL_COUNT, "want one GET per small file")
        self.assertEqual(self.proxy.data_bytes(s), SMALL_COUNT * SMALL_SIZE)
        self.assertEqual(s["requests"]["HEAD"], 0,
                         "HEAD of a key whose parent listing (size, ETag) was cached")
        self.assertEqual(s["requests"]["LIST"], after_list["requests"]["LIST"],
                         "listed again while opening files of a listed directory")

    def read_checked(self, path: Path, data: bytes, chunk: int = 1 << 20) -> tuple[int, int]:
        """Reads path in chunks; every chunk is right or fails with EIO. Returns (ok, eio)."""
        ok = eio = 0
        fd = os.open(path, os.O_RDONLY)
        try:
            for off in range(0, len(data), chunk):
                try:
                    got = os.pread(fd, chunk, off)
                except OSError as e:
                    self.assertEqual(e.errno, 5, f"read at {off}: {e}")
                    eio += 1
                    continue
                if got != data[off:off + chunk]:
                    self.fail(f"read at {off} returned {len(got)} bytes that are not the object's")
                ok += 1
        finally:
            os.close(fd)
        return ok, eio

    def test_d_retries_503(self):
        mp, _ = self.fresh_mount()
        self.proxy.configure(error_rate=0.2)
        try:
            t0 = time.monotonic()
            with open(mp / MID, "rb") as f:
                got = f.read()
            elapsed = time.monotonic() - t0
        finally:
            self.proxy.configure(error_rate=0.0)
        s = self.proxy.stats()
        print(f"  20 MiB through 20% 503s in {elapsed:.2f}s: {self.proxy.summary(s)}")
        self.assertGreater(s["faults"]["error_503"], 0, "no 503 was injected")
        self.assertEqual(hashlib.sha256(got).hexdigest(), hashlib.sha256(self.mid).hexdigest())

    def test_d_truncated_bodies(self):
        mp, _ = self.fresh_mount()
        self.proxy.configure(truncate_rate=0.3)
        try:
            t0 = time.monotonic()
            ok, eio = self.read_checked(mp / MID, self.mid)
            elapsed = time.monotonic() - t0
        finally:
            self.proxy.configure(truncate_rate=0.0)
        s = self.proxy.stats()
        print(f"  20 MiB through 30% cut bodies in {elapsed:.2f}s: {ok} chunks right, {eio} EIO; "
              f"{self.proxy.summary(s)}")
        self.assertGreater(s["faults"]["truncated"], 0, "no body was cut")
        # Once the faults stop, everything reads right (no short block was cached).
        self.assertEqual(self.read_checked(mp / MID, self.mid), (MID_SIZE >> 20, 0))

    def test_e_memory_bound_64_readers(self):
        mp, m = self.fresh_mount(["--memory-size", f"{MEMORY_MIB}M",
                                  "--prefetch-memory", f"{BUDGET_MIB}M"])
        pids = strata_daemon_pids(mp)
        self.assertEqual(len(pids), 1, f"daemon of {mp}: {pids}")
        status = Path(f"/proc/{pids[0]}/status")

        def rss_kib() -> int:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
            return 0

        names = sorted(self.streams)
        errors: list[str] = []
        peak = rss_kib()

        def reader(i: int) -> None:
            name = names[i % STREAM_OBJECTS]
            data = self.streams[name]
            start = (i // STREAM_OBJECTS) * (STREAM_SIZE // (READERS // STREAM_OBJECTS))
            try:
                with open(mp / name, "rb", buffering=0) as f:
                    for k in range(STREAM_SIZE >> 20):
                        off = (start + (k << 20)) % STREAM_SIZE
                        f.seek(off)
                        if f.read(1 << 20) != data[off:off + (1 << 20)]:
                            errors.append(f"{name} at {off}: wrong bytes")
                            return
            except OSError as e:
                errors.append(f"{name}: {e}")

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_kib())
            time.sleep(0.02)
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        time.sleep(1.2)  # one more metrics write
        metrics = read_metrics(m)
        s = self.proxy.stats()
        self.unmount(mp)
        limit_kib = (MEMORY_MIB + BUDGET_MIB + 128) << 10
        print(f"  {READERS} readers, {READERS * STREAM_SIZE >> 20} MiB in {elapsed:.1f}s: "
              f"peak RSS {peak >> 10} MiB (bound {limit_kib >> 10} MiB), budget denials "
              f"{metric(metrics, 'strata_prefetch_budget_denials_total')}; "
              f"{self.proxy.summary(s)}")
        self.assertEqual(errors, [])
        self.assertLessEqual(peak, limit_kib, "daemon RSS above memory tier + budget + 128 MiB")


if __name__ == "__main__":
    unittest.main()
