"""Mount a seeded tree; every name, type, size and sha256 matches the source (issue 2)."""

import errno
import hashlib
import os
import random
import stat
import subprocess
import unittest
from pathlib import Path

from harness import StrataTestCase, assert_errno, read_file

BUCKET = "tree"
EDGE_SIZES = [0, 1, 17, 4095, 4096, 4097, 65535, 65536, 131073, (1 << 20) - 1, (1 << 20) + 3,
              3 * (1 << 20) + 5, 9 * (1 << 20) + 7]


def make_tree(root: Path) -> None:
    rng = random.Random(42)
    dirs = ["", "alpha", "alpha/beta", "alpha/beta/gamma", "alpha/beta/gamma/delta", "epsilon",
            "epsilon/zeta-1", "epsilon/zeta-2", "eta.d", "theta/iota/kappa"]
    for i, size in enumerate(EDGE_SIZES):
        d = dirs[i % len(dirs)]
        p = root / d / f"edge-{size}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(size))
    for i in range(240):
        d = dirs[rng.randrange(len(dirs))]
        p = root / d / f"file_{i:03d}{rng.choice(['.txt', '.jpg', '.csv', '', '.tar.gz'])}"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(rng.choice([rng.randrange(0, 2048),
                                                rng.randrange(2048, 200_000)])))


def snapshot(root: Path) -> dict:
    """{relative path: ('d', None) | ('f', (size, sha256))} for everything below root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            rel = os.path.relpath(os.path.join(dirpath, d), root)
            st = os.stat(os.path.join(dirpath, d))
            assert stat.S_ISDIR(st.st_mode), rel
            out[rel] = ("d", None)
        for f in filenames:
            path = os.path.join(dirpath, f)
            st = os.stat(path)
            assert stat.S_ISREG(st.st_mode), path
            data = read_file(path)
            assert len(data) == st.st_size, f"{path}: read {len(data)} bytes, stat {st.st_size}"
            out[os.path.relpath(path, root)] = ("f", (st.st_size, hashlib.sha256(data).hexdigest()))
    return out


class TreeTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.src = cls.work / "src"
        make_tree(cls.src)
        cls.srv.create_bucket(BUCKET)
        n = cls.srv.put_tree(BUCKET, cls.src)
        print(f"  seeded {n} objects into s3://{BUCKET}")
        cls.expected = snapshot(cls.src)
        cls.mp = cls.mount_for_class(f"s3://{BUCKET}")

    def assertTreeEqual(self, got: dict, want: dict):
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        self.assertEqual((missing, extra), ([], []), "names differ (missing, extra)")
        wrong = [(k, got[k], want[k]) for k in want if got[k] != want[k]]
        self.assertEqual(wrong, [], "type/size/sha256 differ")

    def test_walk_matches_source(self):
        self.assertTreeEqual(snapshot(self.mp), self.expected)
        # Second walk: served from the metadata caches, must not change anything.
        self.assertTreeEqual(snapshot(self.mp), self.expected)

    def test_prefix_mount(self):
        mp = self.mount(f"s3://{BUCKET}/alpha/beta")
        self.assertTreeEqual(snapshot(mp), snapshot(self.src / "alpha" / "beta"))

    def test_ls_lR(self):
        res = subprocess.run(["ls", "-lR", str(self.mp)], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("edge-4096.bin", res.stdout)

    def test_missing_names_enoent(self):
        for _ in range(2):  # the second one may come from the negative cache
            assert_errno(self, {errno.ENOENT}, os.stat, self.mp / "no-such-file")
            assert_errno(self, {errno.ENOENT}, os.stat, self.mp / "alpha" / "nope" / "deeper")
        assert_errno(self, {errno.ENOTDIR}, os.listdir, self.mp / "alpha" / "edge-1.bin")

    def test_read_only(self):
        assert_errno(self, {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSYS},
                     os.open, self.mp / "new-file", os.O_WRONLY | os.O_CREAT, 0o644)
        assert_errno(self, {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSYS},
                     os.mkdir, self.mp / "new-dir")
        assert_errno(self, {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSYS},
                     os.open, self.mp / "alpha" / "edge-1.bin", os.O_WRONLY)

    def test_larger_blocks(self):
        # 4 MiB cache blocks with a disk tier: the same bytes (files span and end
        # inside blocks), and st_blksize stays 1 MiB (Python sizes its buffers by it).
        mp = self.mount(f"s3://{BUCKET}",
                        extra=["--block-size", "4M", "--cache-dir", str(self.work / "cache-4m")])
        self.assertTreeEqual(snapshot(mp), self.expected)
        big = mp / "alpha" / "beta" / f"edge-{9 * (1 << 20) + 7}.bin"
        self.assertEqual(os.stat(big).st_blksize, 1 << 20)
        self.assertEqual(os.stat(self.mp / big.relative_to(mp)).st_blksize, 1 << 20)

    def test_statfs(self):
        st = os.statvfs(self.mp)
        self.assertGreater(st.f_bsize, 0)


if __name__ == "__main__":
    unittest.main()
