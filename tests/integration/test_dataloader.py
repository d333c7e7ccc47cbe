"""The CI version of the DataLoader workload (issue 5): 200 JPEGs in class folders read by
torchvision.datasets.ImageFolder through a real strata mount with 2 workers; every image decodes
and every label matches its folder (and the pixels the label was encoded into)."""

import collections
import os
import unittest

from datagen import decode_class_from_pixels, image_folder
from harness import StrataTestCase

try:
    import torch
    import torchvision
    from torchvision import transforms
    HAVE_TORCH = True
except ImportError as e:  # noqa: F841
    HAVE_TORCH = False
    TORCH_ERROR = str(e)

BUCKET = "dataloader"
CLASSES, PER_CLASS = 10, 20

if HAVE_TORCH:
    class IndexedImageFolder(torchvision.datasets.ImageFolder):
        """ImageFolder that also returns the sample index (to compare with a local copy)."""

        def __getitem__(self, index):
            image, label = super().__getitem__(index)
            return image, label, index


@unittest.skipUnless(HAVE_TORCH, "torch/torchvision not importable with this interpreter; "
                     "the DataLoader test needs python3-torch and python3-torchvision")
class DataLoaderTest(StrataTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.local = cls.work / "images"
        image_folder(cls.local, classes=CLASSES, per_class=PER_CLASS, size=64, seed=5)
        cls.srv.create_bucket(BUCKET)
        cls.srv.put_tree(BUCKET, cls.local, prefix="train/")
        cls.mp = cls.mount_for_class(f"s3://{BUCKET}/train")

    def test_imagefolder_two_workers(self):
        tf = transforms.ToTensor()
        remote = IndexedImageFolder(str(self.mp), transform=tf)
        local = torchvision.datasets.ImageFolder(str(self.local), transform=tf)
        self.assertEqual(remote.classes, [f"class_{c:02d}" for c in range(CLASSES)])
        self.assertEqual(len(remote), CLASSES * PER_CLASS)
        self.assertEqual([(os.path.relpath(p, self.mp), y) for p, y in remote.samples],
                         [(os.path.relpath(p, self.local), y) for p, y in local.samples])
        loader = torch.utils.data.DataLoader(remote, batch_size=16, shuffle=True, num_workers=2)
        seen = collections.Counter()
        indices = set()
        for images, labels, idx in loader:
            for image, label, i in zip(images, labels.tolist(), idx.tolist()):
                path = remote.samples[i][0]
                folder = os.path.basename(os.path.dirname(path))
                self.assertEqual(remote.classes[label], folder, path)
                self.assertEqual(decode_class_from_pixels(image), label, path)
                self.assertTrue(torch.equal(image, local[i][0]), f"{path}: pixels differ")
                seen[label] += 1
                indices.add(i)
        self.assertEqual(len(indices), CLASSES * PER_CLASS)
        self.assertEqual(seen, collections.Counter({c: PER_CLASS for c in range(CLASSES)}))


if __name__ == "__main__":
    unittest.main()
