"""Directories from prefixes and markers, file-and-prefix keys, and keys that cannot be POSIX
names (issue 2). The bad keys come from fakes3 because s3rver cannot store them."""

import os
import unittest

from fakes3 import FakeS3
from harness import StrataTestCase

BUCKET = "odd"
OBJECTS = {
    "deep/a/b/c/leaf.txt": b"deep leaf\n",  # deep/, deep/a/, deep/a/b/ hold only prefixes
    "marker/": b"",  # an empty directory made by a marker object
    "marker-with-child/": b"",
    "marker-with-child/child.txt": b"child\n",
    "both": b"I am a file and a prefix\n",  # shows as a directory
    "both/inner.txt": b"inner\n",
    "plain.txt": b"plain\n",
}
BAD_KEYS = {
    "a//b.txt": b"empty segment\n",
    "x/./y.txt": b"dot segment\n",
    "x/../z.txt": b"dot-dot segment\n",
    "./dot-first.txt": b"dot first\n",
    "long/" + "n" * 300 + ".txt": b"300-byte segment\n",
    "n" * 256: b"256-byte name at the root\n",
    "ok/fine.txt": b"fine\n",
    "ok/" + "m" * 255: b"a 255-byte name is fine\n",
    "good.txt": b"good\n",
}


def check_posix_names(testcase, root):
    """Walks root; every name is a valid POSIX name and every file is readable."""
    seen = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            testcase.assertNotIn(name, ("", ".", ".."))
            testcase.assertNotIn("/", name)
            testcase.assertLessEqual(len(name.encode()), 255)
            seen.append(os.path.relpath(os.path.join(dirpath, name), root))
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                f.read()
    return seen


class OddKeysTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_bucket(BUCKET)
        cls.srv.put_objects(BUCKET, OBJECTS)
        cls.mp = cls.mount_for_class(f"s3://{BUCKET}")

    def test_root(self):
        self.assertEqual(sorted(os.listdir(self.mp)),
                         ["both", "deep", "marker", "marker-with-child", "plain.txt"])

    def test_directory_with_only_deeper_directories(self):
        self.assertEqual(os.listdir(self.mp / "deep"), ["a"])
        self.assertEqual(os.listdir(self.mp / "deep" / "a"), ["b"])
        self.assertEqual(os.listdir(self.mp / "deep" / "a" / "b"), ["c"])
        self.assertTrue(os.path.isdir(self.mp / "deep" / "a" / "b" / "c"))
        with open(self.mp / "deep" / "a" / "b" / "c" / "leaf.txt", "rb") as f:
            self.assertEqual(f.read(), b"deep leaf\n")

    def test_marker_objects(self):
        self.assertTrue(os.path.isdir(self.mp / "marker"))
        self.assertEqual(os.listdir(self.mp / "marker"), [])
        self.assertEqual(os.listdir(self.mp / "marker-with-child"), ["child.txt"])

    def test_file_and_prefix_is_a_directory(self):
        self.assertTrue(os.path.isdir(self.mp / "both"))
        self.assertEqual(os.listdir(self.mp / "both"), ["inner.txt"])
        with open(self.mp / "both" / "inner.txt", "rb") as f:
            self.assertEqual(f.read(), b"inner\n")

    def test_bad_posix_keys_are_skipped(self):
        with FakeS3({"bad": dict(BAD_KEYS)}) as fake:
            # TTL 0: the second walk lists again, and must not warn again.
            mp = self.mounter.mount("s3://bad", fake.endpoint, env=self.env(),
                                    extra=["--metadata-ttl", "0"])
            try:
                seen = check_posix_names(self, mp)
                self.assertEqual(sorted(check_posix_names(self, mp)), sorted(seen))
                self.assertIn("good.txt", seen)
                self.assertIn(os.path.join("ok", "fine.txt"), seen)
                self.assertIn(os.path.join("ok", "m" * 255), seen)
                with open(mp / "ok" / "fine.txt", "rb") as f:
                    self.assertEqual(f.read(), b"fine\n")
                # Nothing else under ok/, and the skipped keys left no entry behind.
                self.assertEqual(sorted(os.listdir(mp / "ok")), ["fine.txt", "m" * 255])
                for d in ("a", "x", "long"):
                    if os.path.exists(mp / d):
                        self.assertEqual(os.listdir(mp / d), [], d)
                # The daemon is still serving after walking every bad key.
                self.assertIn("good.txt", os.listdir(mp))
                print(f"  walked {len(seen)} entries; fakes3 saw {len(fake.requests)} requests")
            finally:
                problems = self.mounter.unmount(mp)
            self.assertEqual(problems, [])
            # One warning per skipped key, in the daemon's log.
            log = self.mounter.log_path(mp).read_text(errors="replace").splitlines()
            warnings = [l[l.index("skipping key"):] for l in log if "skipping key" in l]
            print(f"  {len(warnings)} skip warnings: " + "; ".join(w[:60] for w in warnings))
            self.assertGreaterEqual(len(warnings), 5, "expected a warning per bad key")
            self.assertEqual(len(warnings), len(set(warnings)), "a key was warned about twice")


if __name__ == "__main__":
    unittest.main()
