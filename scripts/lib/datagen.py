"""Deterministic test and sample data for strata's quickstart, tests and benchmarks.

Runs with /usr/bin/python3. Everything is generated locally from a seed, so a second run makes
the same bytes (and can skip work when the files already exist).

    from datagen import (write_random_file, write_jpeg, image_folder, sample_dataset,
                         sha256_file, decode_class_from_pixels)
    write_random_file(path, 64 << 20, seed=1)         # seeded random bytes, 1 MiB chunks
    write_jpeg(path, class_index=3, seed=7, size=64)   # a JPEG whose mean red encodes the class
    image_folder(root, classes=10, per_class=20)       # root/class_00/img_0000.jpg ...
    sample_dataset(root, big_size=256 << 20)           # the quickstart dataset (see below)
    decode_class_from_pixels(pil_image) -> int         # inverse of the colour coding

Command line:
    datagen.py sample DIR [--big-size BYTES]
    datagen.py images DIR --classes N --per-class M [--size PX]
    datagen.py random FILE --size BYTES [--seed S]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
from pathlib import Path

CHUNK = 1 << 20
# Mean red of class c is RED_BASE + RED_STEP * c (classes 0..9 stay within 0..255 with margin),
# so a reader can check that the label a loader gives an image matches the pixels it decoded.
RED_BASE = 12
RED_STEP = 24
MAX_COLOR_CLASSES = 10


def sha256_file(path: os.PathLike | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def write_random_file(path: os.PathLike | str, size: int, seed: int = 0) -> Path:
    """Writes size seeded pseudo-random bytes; skips the work if the file has that size."""
    path = Path(path)
    if path.exists() and path.stat().st_size == size:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        left = size
        while left > 0:
            n = min(CHUNK, left)
            f.write(rng.randbytes(n))
            left -= n
    tmp.replace(path)
    return path


def write_jpeg(path: os.PathLike | str, class_index: int, seed: int, size: int = 64,
               quality: int = 90) -> Path:
    """A size x size JPEG: noisy, with a mean red channel that encodes class_index % 10."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    red = RED_BASE + RED_STEP * (class_index % MAX_COLOR_CLASSES)
    pixels = rng.integers(0, 256, size=(size, size, 3), dtype=np.int16)
    # Red: the class level plus zero-mean noise; green/blue: free noise that makes files differ.
    pixels[..., 0] = np.clip(red + rng.integers(-10, 11, size=(size, size)), 0, 255)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(path, "JPEG", quality=quality)
    return path


def decode_class_from_pixels(image) -> int:
    """The class index write_jpeg encoded into a decoded PIL image (or a CHW float tensor)."""
    if hasattr(image, "getchannel"):
        import numpy as np

        mean_red = float(np.asarray(image.convert("RGB"))[..., 0].mean())
    else:  # torchvision ToTensor(): float in [0, 1], channels first
        mean_red = float(image[0].mean()) * 255.0
    return int(round((mean_red - RED_BASE) / RED_STEP))


def image_folder(root: os.PathLike | str, classes: int = 10, per_class: int = 20, size: int = 64,
                 seed: int = 0) -> list[tuple[Path, int]]:
    """root/class_XX/img_NNNN.jpg for an ImageFolder; returns [(path, class_index)]."""
    root = Path(root)
    out = []
    for c in range(classes):
        for i in range(per_class):
            path = root / f"class_{c:02d}" / f"img_{i:04d}.jpg"
            if not path.exists():
                write_jpeg(path, c, seed=seed * 1_000_003 + c * 10_007 + i, size=size)
            out.append((path, c))
    return out


def sample_dataset(root: os.PathLike | str, big_size: int = 256 << 20) -> dict[str, Path]:
    """The quickstart dataset under root:

    images/class_00..09/img_0000..0029.jpg   300 small JPEGs (ImageFolder layout)
    tables/iris-like.csv                     a small CSV table
    docs/README.txt, docs/nested/deeper/notes.txt
    big/random-256MiB.bin                    big_size bytes of seeded random data
    """
    root = Path(root)
    image_folder(root / "images", classes=10, per_class=30, size=48, seed=1)
    table = root / "tables" / "iris-like.csv"
    if not table.exists():
        table.parent.mkdir(parents=True, exist_ok=True)
        rng = random.Random(2)
        kinds = ["setosa", "versicolor", "virginica"]
        rows = ["sepal_length,sepal_width,petal_length,petal_width,species"]
        for _ in range(150):
            rows.append(",".join(f"{rng.uniform(0.1, 8.0):.1f}" for _ in range(4)) + "," +
                        rng.choice(kinds))
        table.write_text("\n".join(rows) + "\n")
    docs = root / "docs"
    (docs / "nested" / "deeper").mkdir(parents=True, exist_ok=True)
    (docs / "README.txt").write_text(
        "This bucket was seeded by strata's scripts/quickstart.sh.\n"
        "Everything here is read through FUSE from a local S3 server (s3rver).\n")
    (docs / "nested" / "deeper" / "notes.txt").write_text("a file three levels down\n")
    mib = big_size >> 20
    big = write_random_file(root / "big" / f"random-{mib}MiB.bin", big_size, seed=3)
    return {"root": root, "table": table, "big": big}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="strata test/sample data generator")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("sample")
    p.add_argument("dir")
    p.add_argument("--big-size", type=int, default=256 << 20)
    p = sub.add_parser("images")
    p.add_argument("dir")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--per-class", type=int, default=20)
    p.add_argument("--size", type=int, default=64)
    p = sub.add_parser("random")
    p.add_argument("file")
    p.add_argument("--size", type=int, required=True)
    p.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.cmd == "sample":
        info = sample_dataset(args.dir, args.big_size)
        print(info["big"])
    elif args.cmd == "images":
        print(len(image_folder(args.dir, args.classes, args.per_class, args.size)))
    elif args.cmd == "random":
        print(write_random_file(args.file, args.size, args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
