"""1,000 random-offset, random-length preads of a 64 MiB object, byte for byte (issue 2)."""

import concurrent.futures
import hashlib
import os
import random
import time
import unittest

from datagen import sha256_file, write_random_file
from harness import StrataTestCase

BUCKET = "random-reads"
KEY = "data/random-64MiB.bin"
SIZE = 64 << 20


def random_range(rng: random.Random):
    r = rng.random()
    if r < 0.5:
        length = rng.randint(1, 4096)
    elif r < 0.8:
        length = rng.randint(4097, 256 << 10)
    else:
        length = rng.randint((256 << 10) + 1, 2 << 20)
    # A few reads start at or beyond EOF or straddle it.
    offset = rng.randrange(SIZE + 8192) if rng.random() < 0.03 else rng.randrange(SIZE)
    return offset, length


class RandomReadsTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.local = write_random_file(cls.work / "random-64MiB.bin", SIZE, seed=64)
        cls.srv.create_bucket(BUCKET)
        cls.srv.put_objects(BUCKET, {KEY: cls.local})
        cls.mp = cls.mount_for_class(f"s3://{BUCKET}")
        cls.remote = cls.mp / KEY
        with open(cls.local, "rb") as f:
            cls.data = f.read()

    def check_reads(self, seed: int, count: int) -> int:
        rng = random.Random(seed)
        fd = os.open(self.remote, os.O_RDONLY)
        try:
            total = 0
            for i in range(count):
                offset, length = random_range(rng)
                got = os.pread(fd, length, offset)
                want = self.data[offset:offset + length]
                if got != want:
                    self.fail(f"seed {seed} read #{i}: pread(len={length}, off={offset}) returned "
                              f"{len(got)} bytes, want {len(want)}; first difference at "
                              f"{next((j for j, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))}")
                total += len(got)
            return total
        finally:
            os.close(fd)

    def test_size(self):
        self.assertEqual(os.stat(self.remote).st_size, SIZE)

    def test_1000_random_reads(self):
        seed = int(os.environ.get("STRATA_IT_SEED", "20240601"))
        t0 = time.monotonic()
        total = self.check_reads(seed, 1000)
        print(f"  1000 random preads (seed {seed}), {total >> 20} MiB in "
              f"{time.monotonic() - t0:.1f}s")

    def test_concurrent_readers(self):
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda s: self.check_reads(s, 100), [1, 2, 3, 4]))

    def test_sequential_sha256(self):
        h = hashlib.sha256()
        with open(self.remote, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        self.assertEqual(h.hexdigest(), sha256_file(self.local))


if __name__ == "__main__":
    unittest.main()
