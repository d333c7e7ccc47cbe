"""A read returns bytes of one object version, or ESTALE; never a mix (README, DESIGN.md).

s3rver ignores If-Match, so this relies on strata checking the ETag of every response."""

import errno
import os
import random
import unittest

from harness import StrataTestCase

BUCKET = "consistency"
SIZE = 8 << 20


def version(seed: int) -> bytes:
    return random.Random(seed).randbytes(SIZE)


class ConsistencyTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_bucket(BUCKET)

    def overwrite_while_open(self, key: str, extra: list[str]):
        v1, v2 = version(1), version(2)
        self.srv.put_objects(BUCKET, {key: v1})
        mp = self.mount(f"s3://{BUCKET}", extra=["--metadata-ttl", "0", *extra])
        fd = os.open(mp / key, os.O_RDONLY)
        try:
            self.assertEqual(os.pread(fd, 4096, 0), v1[:4096])
            self.srv.put_objects(BUCKET, {key: v2})  # same size, other bytes, other ETag
            outcomes = []
            for offset in (6 << 20, (3 << 20) + 5, SIZE - 100):
                try:
                    got = os.pread(fd, 65536, offset)
                except OSError as e:
                    self.assertEqual(e.errno, errno.ESTALE, f"read at {offset}: {e}")
                    outcomes.append("ESTALE")
                    continue
                # Old bytes (served from a cache) are allowed; new or mixed bytes are not.
                self.assertEqual(got, v1[offset:offset + len(got)],
                                 f"read at {offset} returned bytes of another version")
                outcomes.append("old")
            print(f"  {key} {extra}: reads after the overwrite: {outcomes}")
        finally:
            os.close(fd)
        # A new open (metadata TTL 0) sees the new version in full.
        with open(mp / key, "rb") as f:
            self.assertEqual(f.read(), v2)
        return outcomes

    def test_no_cache_gives_estale(self):
        outcomes = self.overwrite_while_open("direct.bin", ["--no-cache"])
        # Without a block cache every read goes to the store: the changed ETag must show.
        self.assertIn("ESTALE", outcomes)

    def test_cached_gives_old_bytes_or_estale(self):
        self.overwrite_while_open("cached.bin", [])


if __name__ == "__main__":
    unittest.main()
