"""Keys with characters that need percent-encoding are listed and readable by name (issue 2)."""

import os
import unittest

from harness import StrataTestCase

BUCKET = "special"
NAMES = [
    "with space.txt",
    "ünïcødé-日本語.txt",
    "a+b.txt",
    "x=y.txt",
    "a&b.txt",
    "100%.txt",
    "%2F-not-a-slash.txt",
    "%41-not-an-A.txt",
    "tilde~name.txt",
    "(parens).txt",
    "mixed (1) + a=b & c%d ~é.txt",
    "semi;colon,comma'quote!@$*.txt",
    "hash#frag.txt",
    "question?mark.txt",
    "  leading-spaces.txt",
    "emoji-🙂.txt",
]
DIRS = ["dir with space", "ünï dir", "a+b=c&d", "%25"]


def content(key: str) -> bytes:
    return f"content of {key!r}\n".encode()


class SpecialKeysTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.srv.create_bucket(BUCKET)
        cls.keys = [f"chars/{n}" for n in NAMES] + [f"{d}/file {i}+.txt" for i, d in
                                                   enumerate(DIRS)]
        cls.srv.put_objects(BUCKET, {k: content(k) for k in cls.keys})
        cls.mp = cls.mount_for_class(f"s3://{BUCKET}")

    def test_listing_has_every_name(self):
        self.assertEqual(sorted(os.listdir(self.mp / "chars")), sorted(NAMES))
        self.assertEqual(sorted(os.listdir(self.mp)), sorted(DIRS + ["chars"]))

    def test_read_by_name(self):
        for key in self.keys:
            with self.subTest(key=key):
                path = self.mp / key
                self.assertEqual(os.stat(path).st_size, len(content(key)))
                with open(path, "rb") as f:
                    self.assertEqual(f.read(), content(key))

    def test_prefix_mount_with_special_chars(self):
        mp = self.mount(f"s3://{BUCKET}/dir with space")
        self.assertEqual(os.listdir(mp), ["file 0+.txt"])
        with open(mp / "file 0+.txt", "rb") as f:
            self.assertEqual(f.read(), content("dir with space/file 0+.txt"))


if __name__ == "__main__":
    unittest.main()
