"""Block cache through the mount when things change or go wrong (issue 3): an object overwritten
in the bucket, two daemons on one cache directory, a cache disk smaller than --cache-size, and a
cache disk that another program fills. Both disk cases use an 8 MiB tmpfs (skipped where
mounting one is not permitted).
"""

import hashlib
import os
import random
import subprocess
import time
import unittest
from pathlib import Path

from harness import is_mounted, run_strata, strata_daemon_pids
from proxied import ProxiedTestCase, metric, read_metrics

BUCKET = "cache-faults"
TMPFS_SIZE = 8 << 20
# Not 0: strata reads --cache-free-floor 0 as "unset" and keeps the 1 GiB default (reported to
# the lead), which would refuse every write up front; one page keeps the floor out of the way.
FLOOR = "64K"


def body(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def read_all(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CacheFaultsTest(ProxiedTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_bucket(cls, BUCKET)

    def cache_mount(self, cache: Path, metrics: Path | None = None, extra=()) -> Path:
        args = ["--cache-dir", str(cache), *extra]
        if metrics:
            args += ["--metrics-file", str(metrics)]
        return self.mount_proxied(f"s3://{BUCKET}", extra=args)

    def test_overwrite_seen_after_metadata_ttl(self):
        # Same size (only the ETag tells the versions apart) and a different size.
        cases = {"ow/same.bin": (3 << 20, 3 << 20), "ow/grow.bin": (2 << 20, (5 << 20) + 7)}
        old = {k: body(k + "v1", a) for k, (a, _) in cases.items()}
        new = {k: body(k + "v2", b) for k, (_, b) in cases.items()}
        self.srv.put_objects(BUCKET, old)
        cache = self.work / "cache-overwrite"
        mp = self.cache_mount(cache, extra=["--cache-size", "128M", "--metadata-ttl", "1"])
        for k in cases:
            self.assertEqual(sha(read_all(mp / k)), sha(old[k]))
            self.assertEqual(sha(read_all(mp / k)), sha(old[k]))  # warm: page cache / memory

        self.srv.put_objects(BUCKET, new)
        time.sleep(1.5)  # wait out --metadata-ttl 1
        for k in cases:
            got = read_all(mp / k)
            self.assertEqual(len(got), len(new[k]), f"{k}: size of the old version")
            self.assertEqual(sha(got), sha(new[k]),
                             f"{k}: not the new bytes (old bytes: {got == old[k][:len(got)]})")
            self.assertEqual(os.stat(mp / k).st_size, len(new[k]))
        self.unmount(mp)

        # The disk cache still holds blocks of the old version; a remount must not serve them.
        mp = self.cache_mount(cache, extra=["--cache-size", "128M", "--metadata-ttl", "1"])
        for k in cases:
            self.assertEqual(sha(read_all(mp / k)), sha(new[k]), f"{k} after remount")

    def test_second_daemon_on_cache_dir_fails_clearly(self):
        key = "two/a.bin"
        data = body(key, 1 << 20)
        self.srv.put_objects(BUCKET, {key: data})
        cache = self.work / "cache-shared"
        first = self.cache_mount(cache, extra=["--cache-size", "64M"])
        second = self.mounter.mountpoint()
        args = ["mount", f"s3://{BUCKET}", str(second), "--endpoint", self.proxy.endpoint,
                "--cache-dir", str(cache), "--cache-size", "64M", "--log-file",
                str(self.mounter.log_path(second))]
        res = run_strata(args, env=self.env(), timeout=60)
        if is_mounted(second):  # a bug: undo it, then fail
            self.mounter.mounted.append(str(second))
            self.addCleanup(self._unmount_checked, second)
        lines = res.stderr.strip().splitlines()
        print(f"  second mount: exit {res.returncode}, stderr {lines}")
        self.assertNotEqual(res.returncode, 0, "second daemon on one cache dir was accepted")
        self.assertFalse(is_mounted(second), "second mount left mounted")
        self.assertEqual(len(lines), 1, f"want one line on stderr, got {lines}")
        self.assertTrue(lines[0].startswith("strata: error: "), lines[0])
        self.assertIn(str(cache), lines[0])
        self.assertIn("in use", lines[0])
        time.sleep(0.2)
        self.assertEqual(strata_daemon_pids(second), [], "a daemon of the failed mount is running")
        # The first mount is unharmed.
        self.assertEqual(read_all(first / key), data)

    def tmpfs(self, name: str) -> Path:
        """An 8 MiB tmpfs below the work dir, unmounted in cleanup; skips the test if mount(8)
        of a tmpfs is not permitted here."""
        d = self.work / name
        d.mkdir(parents=True)
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_SIZE}", "tmpfs", str(d)],
                             capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here ({res.stderr.strip() or res.returncode}); "
                          "the full-cache-disk case needs root and CAP_SYS_ADMIN")
        self.addCleanup(subprocess.run, ["umount", "-l", str(d)], timeout=30)
        return d

    def test_full_cache_disk_reads_from_store(self):
        key = "full/30MiB.bin"
        data = body(key, 30 << 20)
        self.srv.put_objects(BUCKET, {key: data})
        disk = self.tmpfs("tmpfs-full")
        metrics = self.work / "full.prom"
        mp = self.cache_mount(disk / "cache", metrics,
                              extra=["--cache-size", "256M", "--cache-free-floor", FLOOR,
                                     "--memory-size", "16M"])
        for attempt in (1, 2):
            self.assertEqual(sha(read_all(mp / key)), sha(data), f"read {attempt}: wrong bytes")
        self.unmount(mp)
        m = read_metrics(metrics)
        errors = metric(m, "strata_cache_write_errors_total", tier="disk")
        used = metric(m, "strata_cache_used_bytes", tier="disk")
        evictions = metric(m, "strata_cache_evictions_total", tier="disk")
        fs = os.statvfs(disk)
        print(f"  disk tier: write errors {errors}, evictions {evictions}, used {used:.0f} bytes; "
              f"tmpfs {(fs.f_blocks - fs.f_bfree) * fs.f_frsize} of {TMPFS_SIZE} bytes used")
        self.assertLessEqual(used, TMPFS_SIZE)
        # Either the tier sees the small disk coming (free-space check, then eviction) or its
        # writes fail and are counted; silently losing track is the one wrong outcome.
        self.assertTrue(errors >= 1 or evictions >= 1,
                        "a 30 MiB read into an 8 MiB cache disk: no write error, no eviction")

    def test_cache_disk_filled_by_others(self):
        key = "filled/12MiB.bin"
        data = body(key, 12 << 20)
        self.srv.put_objects(BUCKET, {key: data})
        disk = self.tmpfs("tmpfs-filled")
        metrics = self.work / "filled.prom"
        mp = self.cache_mount(disk / "cache", metrics,
                              extra=["--cache-size", "64M", "--cache-free-floor", FLOOR,
                                     "--memory-size", "8M"])
        # Another program takes every free byte of the cache disk after the mount.
        with open(disk / "filler", "wb") as f:
            chunk = b"\0" * (1 << 20)
            try:
                while True:
                    f.write(chunk)
                    f.flush()
            except OSError:
                pass
        self.addCleanup((disk / "filler").unlink, missing_ok=True)
        self.assertEqual(sha(read_all(mp / key)), sha(data))
        self.unmount(mp)
        m = read_metrics(metrics)
        errors = metric(m, "strata_cache_write_errors_total", tier="disk")
        used = metric(m, "strata_cache_used_bytes", tier="disk")
        print(f"  cache disk filled by another program: disk write errors {errors}, "
              f"used {used:.0f}")
        self.assertGreaterEqual(errors, 1)

if __name__ == "__main__":
    unittest.main()
