"""The benchmark datasets: made once into a local cache directory, then put into the bucket.

Layout (same under the local copy and at the bucket root, below an optional prefix):
    big-1g.bin                  (a) one 1 GiB object, sequential reads (dd, fio seq)
    big-2g.bin                  the 2 GiB object of the fixed-work random-read benchmark
    table-512m.bin              (c) random 64 KiB / 4 KiB reads
    images/class_000..099/img_00000.jpg
                                (b) 10,000 JPEGs of 100-120 KiB (224x224, real pixels whose
                                mean colour encodes the class, so a loader can check labels)
    tiny/d000..d049/t00000.txt  (d) 50,000 tiny objects for metadata workloads
The --quick variant has the same layout, smaller (see VARIANTS).

Getting data into a local s3rver: the objects are hard-linked into s3rver's own on-disk
layout (DATA/BUCKET/KEY._S3rver_object plus its .md5 and metadata files; object files are
immutable in s3rver, a PUT replaces them) -- uploading 60,000 objects through s3rver's API
takes minutes on two cores; seeding takes seconds. The result is then checked through the
S3 API (list, HEAD ETag, ranged GET bytes). A real bucket gets a plain boto3 upload.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

CHUNK = 1 << 20
IMAGE_PX = 224
# Mean colour of class c: R = LEVELS5[c % 5], G = LEVELS5[(c // 5) % 5], B = LEVELS4[c // 25].
LEVELS5 = (70, 100, 130, 160, 190)
LEVELS4 = (75, 115, 155, 195)
MAX_CLASSES = 100
SEED_FORMAT = 1  # bump when the generated content changes, to invalidate old caches


@dataclass(frozen=True)
class Variant:
    name: str
    big: int
    big2: int
    table: int
    classes: int
    per_class: int
    tiny_dirs: int
    tiny_per_dir: int

    @property
    def images(self) -> int:
        return self.classes * self.per_class

    @property
    def tiny(self) -> int:
        return self.tiny_dirs * self.tiny_per_dir


VARIANTS = {
    "full": Variant("full", 1 << 30, 2 << 30, 512 << 20, 100, 100, 50, 1000),
    "quick": Variant("quick", 256 << 20, 512 << 20, 128 << 20, 100, 10, 10, 500),
}

BIG, BIG2, TABLE, IMAGES, TINY = "big-1g.bin", "big-2g.bin", "table-512m.bin", "images", "tiny"


def class_color(c: int) -> tuple[int, int, int]:
    return LEVELS5[c % 5], LEVELS5[(c // 5) % 5], LEVELS4[c // 25]


def class_from_means(r: float, g: float, b: float) -> int:
    """Inverse of class_color for the channel means of a decoded image (0..255 scale)."""

    def nearest(levels, v):
        return min(range(len(levels)), key=lambda i: abs(levels[i] - v))

    return nearest(LEVELS5, r) + 5 * nearest(LEVELS5, g) + 25 * nearest(LEVELS4, b)


def jpeg_bytes(c: int, seed: int) -> bytes:
    """A 224x224 JPEG of 100-120 KiB: class colour plus uniform noise, amplitude tuned to size."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    target = rng.integers(101 << 10, 119 << 10)
    base = np.array(class_color(c), dtype=np.int16)
    noise = rng.integers(-1000, 1001, size=(IMAGE_PX, IMAGE_PX, 3), dtype=np.int16)
    amp = 55.0 * target / (105 << 10)  # 55 gives about 105 KiB
    best = b""
    for _ in range(8):
        px = np.clip(base + (noise * amp / 1000.0).astype(np.int16), 0, 255).astype(np.uint8)
        out = io.BytesIO()
        Image.fromarray(px, "RGB").save(out, "JPEG", quality=97, subsampling=0)
        data = out.getvalue()
        if (100 << 10) <= len(data) <= (120 << 10):
            if abs(len(data) - target) < (2 << 10):
                return data
            if not best or abs(len(data) - target) < abs(len(best) - target):
                best = data
        # Size grows roughly linearly with the noise amplitude in this range.
        amp = max(5.0, min(80.0, amp * (1 + 1.5 * (target - len(data)) / len(data))))
    if best:
        return best
    raise RuntimeError("could not make a 100-120 KiB JPEG (last %d bytes)" % len(data))


def _write_class(args) -> int:
    root, c, per_class = args
    d = Path(root) / IMAGES / ("class_%03d" % c)
    d.mkdir(parents=True, exist_ok=True)
    for i in range(per_class):
        path = d / ("img_%05d.jpg" % i)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(jpeg_bytes(c, SEED_FORMAT * 1_000_003 + c * 10_007 + i))
            tmp.replace(path)
    return c


def write_random(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        left = size
        while left:
            n = min(CHUNK, left)
            f.write(os.urandom(n))
            left -= n
    tmp.replace(path)


def make_local(root: Path, v: Variant, log) -> None:
    """Creates the local copy (idempotent: finished files are kept; a marker says 'complete')."""
    marker = root / ".complete.json"
    want = {"variant": asdict(v), "format": SEED_FORMAT}
    if marker.exists() and json.loads(marker.read_text()) == want:
        return
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for name, size in ((BIG, v.big), (BIG2, v.big2), (TABLE, v.table)):
        log("dataset: %s (%d MiB)" % (name, size >> 20))
        write_random(root / name, size)
    log("dataset: %d JPEGs in %d classes" % (v.images, v.classes))
    jobs = [(str(root), c, v.per_class) for c in range(v.classes)]
    with multiprocessing.get_context("fork").Pool(max(1, min(2, os.cpu_count() or 1))) as pool:
        for _ in pool.imap_unordered(_write_class, jobs):
            pass
    log("dataset: %d tiny objects" % v.tiny)
    for d in range(v.tiny_dirs):
        dd = root / TINY / ("d%03d" % d)
        dd.mkdir(parents=True, exist_ok=True)
        for i in range(v.tiny_per_dir):
            p = dd / ("t%05d.txt" % i)
            if not p.exists():
                p.write_bytes(b"tiny object %03d/%05d\n" % (d, i))
    marker.write_text(json.dumps(want))
    log("dataset: local copy ready in %.0f s" % (time.monotonic() - t0))


def local_files(root: Path):
    """(key, path) for every dataset file under root, sorted."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.startswith(".") or name.endswith(".tmp"):
                continue
            p = Path(dirpath) / name
            out.append((p.relative_to(root).as_posix(), p))
    return out


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def seed_s3rver(data_dir: Path, bucket: str, root: Path, log) -> None:
    """Hard-links the local copy into s3rver's store for bucket (s3rver must not be writing it)."""
    bucket_dir = data_dir / bucket
    marker = data_dir / (".bench-seeded-%s.json" % bucket)
    source = json.loads((root / ".complete.json").read_text())
    if marker.exists() and json.loads(marker.read_text()) == source:
        return
    t0 = time.monotonic()
    files = local_files(root)
    log("dataset: seeding %d objects into s3rver bucket %s" % (len(files), bucket))
    if bucket_dir.exists():
        shutil.rmtree(bucket_dir)
    bucket_dir.mkdir(parents=True)
    meta = json.dumps({"content-type": "application/octet-stream"}, indent=2)
    made_dirs = set()
    for key, path in files:
        parts = key.split("/")
        d = bucket_dir.joinpath(*parts[:-1])
        if d not in made_dirs:
            d.mkdir(parents=True, exist_ok=True)
            made_dirs.add(d)
        obj = d / (parts[-1] + "._S3rver_object")
        try:
            os.link(path, obj)
        except OSError:  # another filesystem: copy instead
            shutil.copyfile(path, obj)
        (d / (parts[-1] + "._S3rver_object.md5")).write_text(_md5(path))
        (d / (parts[-1] + "._S3rver_metadata.json")).write_text(meta)
    marker.write_text(json.dumps(source))
    log("dataset: seeded in %.0f s" % (time.monotonic() - t0))


def upload(client, bucket: str, prefix: str, root: Path, log, threads: int = 16) -> None:
    """Uploads the local copy under prefix unless a marker object says it is already there."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
    from s3server import put_objects

    marker_key = prefix + ".bench-dataset.json"
    source = (root / ".complete.json").read_text()
    try:
        have = client.get_object(Bucket=bucket, Key=marker_key)["Body"].read().decode()
        if have == source:
            return
    except Exception:  # noqa: BLE001 - absent or unreadable marker: upload
        pass
    files = local_files(root)
    log("dataset: uploading %d objects to s3://%s/%s" % (len(files), bucket, prefix))
    t0 = time.monotonic()
    put_objects(client, bucket, [(prefix + k, p) for k, p in files], threads=threads)
    client.put_object(Bucket=bucket, Key=marker_key, Body=source.encode())
    log("dataset: uploaded in %.0f s" % (time.monotonic() - t0))


def verify(client, bucket: str, prefix: str, root: Path, v: Variant) -> None:
    """Spot-checks the bucket against the local copy through the S3 API; raises on mismatch."""
    resp = client.list_objects_v2(Bucket=bucket, Prefix=prefix + IMAGES + "/", Delimiter="/")
    classes = [p["Prefix"] for p in resp.get("CommonPrefixes", [])]
    if len(classes) != v.classes:
        raise RuntimeError("bucket lists %d image classes, expected %d" % (len(classes), v.classes))
    keys = 0
    for page in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix + TINY + "/d000/"):
        keys += len(page.get("Contents", []))
    if keys != v.tiny_per_dir:
        raise RuntimeError("bucket lists %d keys in tiny/d000/, expected %d" % (keys,
                                                                                v.tiny_per_dir))
    for key in (BIG, TABLE, IMAGES + "/class_007/img_00003.jpg"):
        path = root / key
        head = client.head_object(Bucket=bucket, Key=prefix + key)
        if head["ContentLength"] != path.stat().st_size:
            raise RuntimeError("size of %s differs from the local copy" % key)
        with path.open("rb") as f:
            f.seek(path.stat().st_size // 3)
            want = f.read(65536)
        start = path.stat().st_size // 3
        got = client.get_object(Bucket=bucket, Key=prefix + key,
                                Range="bytes=%d-%d" % (start, start + len(want) - 1))["Body"].read()
        if got != want:
            raise RuntimeError("bytes of %s differ from the local copy" % key)
