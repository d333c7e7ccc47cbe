"""A directory of 5,000 objects is listed completely, across ListObjectsV2 pages (issue 2)."""

import hashlib
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
        t0 = time.monotonic()
        if os.environ.get("STRATA_IT_SEED_WITH_PUT"):
            cls.srv.put_objects(BUCKET, objects, threads=16)
        else:
            # Straight into s3rver's store: 5,000 PUTs take 15-45 s on two busy cores.
            cls.srv.write_objects_direct(BUCKET, objects)
        cls.srv.put_objects(BUCKET, {"big-sibling.txt": b"next to the big directory\n",
                                     "before/a.txt": b"a\n"})
        print(f"  seeded {len(objects) + 2} objects in {time.monotonic() - t0:.1f}s")
        cls.verify_seed(objects)
        cls.mp = cls.mount_for_class(f"s3://{BUCKET}")

    @classmethod
    def verify_seed(cls, objects):
        """The seeded objects, as the S3 API (boto3) sees them: every key, size and ETag."""
        client = cls.srv.client()
        listed = {}
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET,
                                                                     Prefix="big/"):
            for o in page.get("Contents", []):
                listed[o["Key"]] = (o["Size"], o["ETag"].strip('"'))
        want = {k: (len(v), hashlib.md5(v).hexdigest()) for k, v in objects.items()}
        assert listed == want, "seeded objects differ from what s3rver lists"
        key = "big/obj-01234.dat"
        assert client.get_object(Bucket=BUCKET, Key=key)["Body"].read() == objects[key]

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
