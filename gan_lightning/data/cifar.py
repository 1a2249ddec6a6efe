"""CIFAR-10 from the python pickles (tar.gz or extracted) or from an image folder <split>/<class>/*.png|jpg."""

import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.files import (
    ON_CORRUPT,
    TAR_SUFFIXES,
    ImageFiles,
    is_archive,
    read_image_folder,
)
from gan_lightning.data.images import fit_batch
from gan_lightning.errors import ConfigError, check_choice

TAR_NAME = "cifar-10-python.tar.gz"
BATCHES_DIR = "cifar-10-batches-py"
BATCHES = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]}
LAYOUTS = f"{TAR_NAME}, {BATCHES_DIR}/, <split>/<class>/*.png|jpg, or a .tar.gz/.zip of that image folder"


def unpickle_batches(read: Callable[[str], bytes], split: str, where: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels [N] from the pickled batches of `split`; read(name) gives bytes."""
    images, labels = [], []
    for name in BATCHES[split]:
        try:
            batch = pickle.loads(read(name), encoding="bytes")
        except (KeyError, OSError, pickle.UnpicklingError) as error:
            raise ConfigError(f"dataset.root={str(where)!r} has no readable batch {name} ({error}); "
                              f"accepted: {LAYOUTS}") from error
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))  # rows are R, G, B planes
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def read_pickle_tar(path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The pickled batches straight from cifar-10-python.tar.gz, without extracting it."""
    with tarfile.open(path) as tf:
        return unpickle_batches(lambda name: tf.extractfile(f"{BATCHES_DIR}/{name}").read(), split, path)


def has_pickles(path: Path) -> bool:
    """True for a tar that holds the pickled batches (rather than an image folder); reads only its first files."""
    try:
        with tarfile.open(path) as tf:
            member = tf.next()
            while member is not None and not member.isfile():
                member = tf.next()
    except tarfile.TarError as error:
        raise ConfigError(f"dataset.root={str(path)!r} cannot be opened ({error}); accepted: {LAYOUTS}") from error
    return member is not None and member.name.startswith(f"{BATCHES_DIR}/")


class CIFAR10DataModule(InMemoryDataModule):
    """CIFAR-10 (32x32 RGB, 10 classes), resized when resolution != 32."""

    name = "CIFAR-10"

    def __init__(
        self,
        root: str,
        resolution: int = 32,
        channels: int = 3,
        split: str = "train",
        batch_size: int = 64,
        seed: int = 0,
        conditional: bool = False,
        num_workers: int = 0,
        on_corrupt: str = "error",
    ) -> None:
        super().__init__(resolution, channels, batch_size, seed, conditional, num_workers)
        check_choice("dataset.split", split, tuple(BATCHES))
        check_choice("dataset.on_corrupt", on_corrupt, ON_CORRUPT)
        self.on_corrupt = on_corrupt  # for the <split>/<class>/*.png layout
        self.root = root
        self.split = split
        self.noun = f"{split} images"

    def load(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Read `split` from whichever layout `root` holds."""
        root = Path(self.root).expanduser()
        self.source = str(root)
        if root.is_file() and root.name.endswith(TAR_SUFFIXES) and has_pickles(root):
            images, labels = read_pickle_tar(root, self.split)
        elif (root / TAR_NAME).is_file():
            self.source = str(root / TAR_NAME)
            images, labels = read_pickle_tar(root / TAR_NAME, self.split)
        elif (root / BATCHES_DIR).is_dir() or (root / "batches.meta").is_file():
            folder = root / BATCHES_DIR if (root / BATCHES_DIR).is_dir() else root
            images, labels = unpickle_batches(lambda name: (folder / name).read_bytes(), self.split, folder)
        elif (root / self.split).is_dir() or is_archive(root):
            files = (ImageFiles(root / self.split, on_corrupt=self.on_corrupt) if root.is_dir()
                     else ImageFiles(root, on_corrupt=self.on_corrupt).within(self.split))
            if not files.names:
                raise ConfigError(f"dataset.root={self.root!r} has no images under {self.split}/; accepted: {LAYOUTS}")
            pixels, labels, _ = read_image_folder(files, self.resolution, self.channels, labels_from_subfolders=True)
            return pixels, labels
        else:
            raise ConfigError(f"dataset.root={self.root!r} holds no CIFAR-10; accepted: {LAYOUTS}")
        return fit_batch(torch.from_numpy(images), self.resolution, self.channels), torch.from_numpy(labels)
