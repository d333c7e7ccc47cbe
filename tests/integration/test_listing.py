"""A directory of 5,000 objects is listed completely, across ListObjectsV2 pages (issue 2)."""

import os
import random
import time
import unittest

from harness import StrataTestCase

BUCKET = "listing"
COUNT = 5000


def body(i: int) -> bytes:
    return f"object {i}\n".encode() * (1 + i % 7)


class ListingTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_bucket(BUCKET)
        cls.names = {f"obj-{i:05d}.dat": i for i in range(COUNT)}
        objects = {f"big/{name}": body(i) for name, i in cls.names.items()}
        objects["big-sibling.txt"] = b"next to the big directory\n"
        objects["before/a.txt"] = b"a\n"
        t0 = time.monotonic()
        cls.srv.put_objects(BUCKET, objects, threads=16)
        print(f"  seeded {len(objects)} objects in {time.monotonic() - t0:.1f}s")
        cls.mp = cls.mount_for_class(f"s3://{BUCKET}")

    def test_list_5000(self):
        t0 = time.monotonic()
        got = os.listdir(self.mp / "big")
        print(f"  cold listing of {len(got)} entries in {time.monotonic() - t0:.2f}s")
        self.assertEqual(len(got), len(set(got)), "duplicate names in the listing")
        self.assertEqual(sorted(set(self.names) - set(got)), [], "missing names")
        self.assertEqual(sorted(set(got) - set(self.names)), [], "unexpected names")
        # Listed again (from the listing cache or the store): the same set.
        self.assertEqual(sorted(os.listdir(self.mp / "big")), sorted(self.names))

    def test_sizes_and_contents(self):
        entries = {e.name: e.stat().st_size for e in os.scandir(self.mp / "big")}
        self.assertEqual(len(entries), COUNT)
        wrong = [n for n, i in self.names.items() if entries.get(n) != len(body(i))]
        self.assertEqual(wrong, [])
        for name in random.Random(5).sample(sorted(self.names), 50):
            with open(self.mp / "big" / name, "rb") as f:
                self.assertEqual(f.read(), body(self.names[name]), name)

    def test_root(self):
        self.assertEqual(sorted(os.listdir(self.mp)), ["before", "big", "big-sibling.txt"])


if __name__ == "__main__":
    unittest.main()
