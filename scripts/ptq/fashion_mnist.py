"""Minimal Fashion-MNIST IDX reader (no torchvision).

Reads the IDX files installed by Debian's ``dataset-fashion-mnist`` package
(/usr/share/datasets/fashion-mnist/), gzipped or not, into numpy arrays:
images uint8 [N, 28, 28], labels uint8 [N].
"""
import gzip
import os
import struct

import numpy as np

DEFAULT_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def _open(path):
    """Open ``path`` or ``path.gz``, whichever exists."""
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                magic = f.read(2)
            return gzip.open(p, "rb") if magic == b"\x1f\x8b" else open(p, "rb")
    raise FileNotFoundError(f"{path}[.gz] not found "
                            "(apt-get install dataset-fashion-mnist?)")


def read_idx(path):
    """Read one IDX file (unsigned byte data only) into a numpy array."""
    with _open(path) as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if arr.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch {arr.size} vs {dims}")
    return arr.reshape(dims).copy()


def load(split="train", root=DEFAULT_DIR):
    """Return (images uint8 [N,28,28], labels uint8 [N]) for 'train' or 'test'."""
    img_name, lbl_name = _FILES[split]
    images = read_idx(os.path.join(root, img_name))
    labels = read_idx(os.path.join(root, lbl_name))
    assert images.shape[0] == labels.shape[0] and images.shape[1:] == (28, 28)
    return images, labels


if __name__ == "__main__":
    for s in ("train", "test"):
        x, y = load(s)
        print(s, x.shape, x.dtype, y.shape, y.dtype, "classes", np.bincount(y))
