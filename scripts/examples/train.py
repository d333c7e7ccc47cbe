#!/usr/bin/python3
"""Train a small CNN on an ImageFolder that lives in an S3 bucket, read through a strata mount.

The two lines a user needs -- everything else is ordinary PyTorch:

    strata mount s3://my-bucket /mnt/data                  # 1. in a shell: mount the bucket
    dataset = ImageFolder("/mnt/data/images", transform)   # 2. in Python: a plain local path

strata fetches each small file with one GET on first read and serves later epochs from its
local cache, so the loader needs no S3 client, no custom Dataset and no sharding scheme.

Example with the benchmark's dataset (scripts/bench/run.sh creates it in bucket "bench"):
    strata mount s3://bench /mnt/bench --endpoint http://127.0.0.1:PORT
    /usr/bin/python3 scripts/examples/train.py /mnt/bench/images --steps 300

Runs on CPU in a few minutes: a 3-layer CNN on 64x64 inputs, 4 loader workers.
"""

import argparse
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms
from torchvision.datasets import ImageFolder


def small_cnn(classes: int) -> nn.Module:
    def block(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout),
                             nn.ReLU(inplace=True), nn.MaxPool2d(2))

    return nn.Sequential(block(3, 16), block(16, 32), block(32, 64),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, classes))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("root", help="ImageFolder root on the mount, e.g. /mnt/data/images")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--lr", type=float, default=0.05)
    args = ap.parse_args()
    torch.manual_seed(0)

    transform = transforms.Compose([transforms.Resize(64), transforms.ToTensor()])
    # The line that matters: the bucket is just a directory.
    dataset = ImageFolder(args.root, transform)
    loader = DataLoader(dataset, batch_size=args.batch_size, shuffle=True,
                        num_workers=args.workers, drop_last=True, persistent_workers=True)
    model = small_cnn(len(dataset.classes))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    print("%d images in %d classes from %s" % (len(dataset), len(dataset.classes), args.root))

    step, epoch, seen = 0, 0, 0
    t0 = time.monotonic()
    correct = total = 0
    running = 0.0
    while step < args.steps:
        epoch += 1
        for images, labels in loader:
            logits = model(images)
            loss = loss_fn(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            seen += images.shape[0]
            running += loss.item()
            correct += (logits.argmax(1) == labels).sum().item()
            total += labels.shape[0]
            if step % 50 == 0 or step == args.steps:
                print("epoch %d step %4d  loss %.3f  train acc %5.1f%%  %6.0f images/s" % (
                    epoch, step, running / 50 if step % 50 == 0 else running / (step % 50),
                    100.0 * correct / total, seen / (time.monotonic() - t0)))
                running, correct, total = 0.0, 0, 0
            if step >= args.steps:
                break
    print("done: %d steps, %d images in %.0f s" % (step, seen, time.monotonic() - t0))


if __name__ == "__main__":
    main()
