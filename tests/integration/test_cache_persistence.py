"""The disk cache survives unmount and kill -9, and checks what it reads back (issue 3).

Every mount goes through the counting proxy (scripts/bench/proxy.py); "data GETs" are object
GETs, ranged or not. HEAD and LIST are allowed on a remount: only the data must come from disk.
"""

import hashlib
import os
import random
import signal
import time
import unittest
from pathlib import Path

from harness import force_unmount, is_mounted, stop_daemons, strata_daemon_pids
from proxied import ProxiedTestCase, drop_page_cache, metric, read_metrics

BUCKET = "cache-persist"
# A small dataset: one 20 MiB file (many blocks, readahead), one that ends mid-block and
# mid-page, one small file (fetched whole) and a tiny one.
DATASET = {
    "ds/big.bin": 20 << 20,
    "ds/mid.bin": (3 << 20) + 12345,
    "ds/small.bin": 100 << 10,
    "ds/tiny.txt": 17,
}
WRITE_BACK_TIMEOUT = 10.0


def body(key: str, size: int) -> bytes:
    return random.Random(key).randbytes(size)


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class CachePersistenceTest(ProxiedTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.create_bucket(cls, BUCKET)
        objects = {k: body(k, n) for k, n in DATASET.items()}
        cls.srv.put_objects(BUCKET, objects)
        cls.want = {k: hashlib.sha256(v).hexdigest() for k, v in objects.items()}
        cls.total = sum(DATASET.values())

    def cache_mount(self, cache: Path, metrics: Path, mp: Path | None = None, extra=()) -> Path:
        return self.mount_proxied(
            f"s3://{BUCKET}", mp=mp,
            extra=["--cache-dir", str(cache), "--cache-size", "256M", "--metrics-file",
                   str(metrics), "--metadata-ttl", "60", *extra])

    def read_dataset(self, mp: Path) -> None:
        self.assertEqual(sorted(os.listdir(mp / "ds")),
                         sorted(k.split("/", 1)[1] for k in DATASET))
        for key in DATASET:
            self.assertEqual(sha256_of(mp / key), self.want[key], f"{key}: wrong bytes")

    def fresh_dir(self, name: str) -> Path:
        d = self.work / name
        d.mkdir(parents=True, exist_ok=False)
        return d

    def test_remount_serves_from_disk(self):
        cache = self.fresh_dir("cache-clean")
        mp = self.cache_mount(cache, self.work / "clean-1.prom")
        self.read_dataset(mp)
        first = self.proxy.stats()
        self.assertGreaterEqual(self.proxy.data_bytes(first), self.total)
        self.unmount(mp)

        self.proxy.reset()
        dropped = drop_page_cache()
        metrics = self.work / "clean-2.prom"
        mp = self.cache_mount(cache, metrics)
        self.read_dataset(mp)
        self.unmount(mp)  # the daemon writes its metrics file once more at exit
        second = self.proxy.stats()
        print(f"  cold: {self.proxy.summary(first)}\n  remount: {self.proxy.summary(second)} "
              f"(page cache {'dropped' if dropped else 'not droppable here'})")
        self.assertEqual(self.proxy.data_gets(second), 0,
                         f"remount with the same cache dir fetched data: "
                         f"{self.proxy.summary(second)}")
        m = read_metrics(metrics)
        self.assertGreaterEqual(metric(m, "strata_cache_hit_bytes_total", tier="disk"),
                                self.total)
        self.assertEqual(metric(m, "strata_store_fetches_total"), 0)

    def test_kill9_keeps_what_was_written(self):
        cache = self.fresh_dir("cache-kill9")
        metrics = self.work / "kill9-1.prom"
        mp = self.cache_mount(cache, metrics)
        self.read_dataset(mp)
        # Disk copies are written behind the reads. Wait (at least 1 s, at most 10 s) until the
        # daemon's metrics say the disk tier holds the whole dataset and no fill is running:
        # what is on disk at that point must survive the kill.
        deadline = time.monotonic() + WRITE_BACK_TIMEOUT
        time.sleep(1.0)
        while True:
            m = read_metrics(metrics)
            on_disk = metric(m, "strata_cache_inserted_bytes_total", tier="disk")
            if (on_disk >= self.total and metric(m, "strata_cache_fills_in_flight") == 0) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(on_disk, self.total,
                                f"disk tier took only {on_disk} of {self.total} bytes in "
                                f"{WRITE_BACK_TIMEOUT}s")
        self.assertEqual(metric(m, "strata_cache_write_errors_total", tier="disk"), 0)
        time.sleep(1.1)  # one more metrics period: the counters lead the rename by a little

        pids = strata_daemon_pids(mp)
        self.assertTrue(pids, "no strata daemon found for the mount")
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.assertFalse(stop_daemons(str(mp), timeout=10), "daemon survived SIGKILL")
        # The dead FUSE mount stays in the mount table until it is detached.
        self.assertTrue(is_mounted(mp))
        force_unmount(str(mp))
        self.assertFalse(is_mounted(mp), "dead mount could not be detached")
        self.mounter.mounted.remove(str(mp))

        self.proxy.reset()
        drop_page_cache()
        metrics2 = self.work / "kill9-2.prom"
        mp = self.cache_mount(cache, metrics2, mp=mp)
        self.read_dataset(mp)
        self.unmount(mp)
        s = self.proxy.stats()
        print(f"  after kill -9 and remount: {self.proxy.summary(s)}")
        self.assertEqual(self.proxy.data_gets(s), 0,
                         f"blocks written before kill -9 were fetched again: "
                         f"{self.proxy.summary(s)}")
        self.assertEqual(metric(read_metrics(metrics2), "strata_cache_checksum_failures_total"),
                         0)

    def test_corrupt_block_file_is_refetched(self):
        key = "ds/mid.bin"
        cache = self.fresh_dir("cache-corrupt")
        mp = self.cache_mount(cache, self.work / "corrupt-1.prom")
        self.assertEqual(sha256_of(mp / key), self.want[key])
        self.unmount(mp)

        blocks = sorted(cache.rglob("*.blk"))
        self.assertGreaterEqual(len(blocks), 4, f"expected the 4 blocks of {key} in {cache}")
        victim = blocks[len(blocks) // 2]
        size = victim.stat().st_size
        offset = size - 1000  # in the payload, well past any header
        with open(victim, "r+b") as f:
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0x5A]))
        print(f"  flipped byte {offset} of {victim.relative_to(cache)} ({size} bytes)")

        self.proxy.reset()
        drop_page_cache()
        metrics = self.work / "corrupt-2.prom"
        mp = self.cache_mount(cache, metrics)
        self.assertEqual(sha256_of(mp / key), self.want[key], "corrupted cache gave wrong bytes")
        self.unmount(mp)
        s = self.proxy.stats()
        m = read_metrics(metrics)
        failures = metric(m, "strata_cache_checksum_failures_total")
        print(f"  remount: {self.proxy.summary(s)}; checksum failures {failures}")
        self.assertGreaterEqual(failures, 1)
        self.assertEqual(self.proxy.data_gets(s), 1,
                         f"want exactly one re-fetch of the bad block: {self.proxy.summary(s)}")


if __name__ == "__main__":
    unittest.main()
