#!/usr/bin/python3
"""One epoch of a PyTorch DataLoader over an ImageFolder; prints one JSON line of results.

Every image is read whole, decoded by PIL and turned into a tensor in the loader's worker
processes, and its label is checked against the class its pixels encode (datasets.py), so a
filesystem that returns wrong bytes fails here rather than looking fast.

The order is a fixed random permutation (--seed), identical across runs; --count N reads only
its first N images (the bench's warm epoch rereads exactly what a time-capped cold epoch read).
The clock starts when iteration starts: the ImageFolder scan is timed separately.

    /usr/bin/python3 loader.py --root MNT/images [--workers 4] [--batch-size 32]
                               [--max-seconds 150] [--count N] [--seed 0]
"""

import argparse
import io
import json
import sys
import time
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import ImageFolder
from torchvision.transforms.functional import pil_to_tensor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import class_from_means  # noqa: E402


class CheckedImages(Dataset):
    """ImageFolder's samples in a given order; yields (tensor, label, bytes, label_ok)."""

    def __init__(self, folder: ImageFolder, order):
        self.samples = folder.samples
        self.classes = folder.classes
        self.order = order

    def __len__(self):
        return len(self.order)

    def __getitem__(self, i):
        path, label = self.samples[self.order[i]]
        with open(path, "rb") as f:
            data = f.read()
        image = Image.open(io.BytesIO(data)).convert("RGB")
        tensor = pil_to_tensor(image).float().div_(255.0)
        means = tensor.mean(dim=(1, 2)) * 255.0
        # Class names are class_NNN; the pixels encode NNN.
        want = int(self.classes[label].split("_")[-1])
        ok = class_from_means(*means.tolist()) == want
        return tensor, label, len(data), ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-seconds", type=float, default=150.0)
    ap.add_argument("--count", type=int, default=0, help="read only the first N of the order")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    t0 = time.monotonic()
    folder = ImageFolder(args.root)
    scan_s = time.monotonic() - t0
    order = torch.randperm(len(folder.samples), generator=torch.Generator().manual_seed(args.seed))
    order = order.tolist()
    if args.count:
        order = order[: args.count]
    loader = DataLoader(CheckedImages(folder, order), batch_size=args.batch_size,
                        num_workers=args.workers, shuffle=False, persistent_workers=False)
    images = nbytes = bad = 0
    capped = False
    t1 = time.monotonic()
    it = iter(loader)
    for batch, _labels, sizes, oks in it:
        images += batch.shape[0]
        nbytes += int(sizes.sum())
        bad += int((~oks).sum())
        if time.monotonic() - t1 > args.max_seconds:
            capped = images < len(order)
            break
    seconds = time.monotonic() - t1
    del it
    print(json.dumps({
        "images": images,
        "planned": len(order),
        "seconds": seconds,
        "images_per_s": images / seconds if seconds > 0 else 0.0,
        "bytes": nbytes,
        "scan_seconds": scan_s,
        "classes": len(folder.classes),
        "label_mismatches": bad,
        "capped": capped,
    }))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
