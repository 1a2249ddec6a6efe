"""CIFAR-10 from the python pickles (tar.gz or extracted) or from an image folder <split>/<class>/*.png|jpg."""

import importlib
import io
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


# the globals a CIFAR-10 python batch needs: numpy's array and dtype reconstruction (numpy.core before numpy 2,
# numpy._core since; _frombuffer for pickle protocol 5) and _codecs.encode (bytes in a protocol-2 pickle)
SAFE_GLOBALS = {
    **{(f"numpy.{core}.multiarray", "_reconstruct"): ("multiarray", "_reconstruct") for core in ("core", "_core")},
    **{(f"numpy.{core}.numeric", "_frombuffer"): ("numeric", "_frombuffer") for core in ("core", "_core")},
    ("numpy", "ndarray"): None, ("numpy", "dtype"): None, ("_codecs", "encode"): None,
    **{("builtins", name): None for name in ("list", "dict", "tuple", "set", "frozenset", "bytearray")},
}


class BatchUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and builtin containers only: a batch file that names any other global (a crafted
    one calling os.system) is refused before anything runs."""

    def find_class(self, module: str, name: str):
        if (module, name) not in SAFE_GLOBALS:
            raise pickle.UnpicklingError(f"refused: loading it would run code ({module}.{name})")
        where = SAFE_GLOBALS[module, name]
        if where is None:
            return super().find_class(module, name)
        try:  # numpy 2 keeps numpy.core only as a deprecated alias
            return getattr(importlib.import_module(f"numpy._core.{where[0]}"), where[1])
        except ImportError:
            return getattr(importlib.import_module(f"numpy.core.{where[0]}"), where[1])


def read_batch(data: bytes, name: str, where: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels [N] of one pickled batch; a crafted or malformed one is one line."""
    def refuse(reason: str) -> ConfigError:
        return ConfigError(f"dataset.root={str(where)!r}: batch {name} is not a CIFAR-10 python batch ({reason}); "
                           f"accepted: {LAYOUTS}")

    try:
        batch = BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as error:  # truncated (EOFError), refused globals, damaged opcodes ...
        raise refuse((str(error).strip().splitlines() or [type(error).__name__])[0][:200]) from None
    if not isinstance(batch, dict) or not {b"data", b"labels"} <= set(batch):
        keys = sorted(map(str, batch)) if isinstance(batch, dict) else type(batch).__name__
        raise refuse(f"needs a dict with b'data' and b'labels'; found {keys}")
    try:  # rows are the R, G, B planes of one image
        images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        labels = np.asarray(batch[b"labels"], dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as error:
        raise refuse(f"b'data' must be uint8 rows of 3072 and b'labels' integers ({error})") from None
    if len(images) != len(labels):
        raise refuse(f"{len(images)} images and {len(labels)} labels")
    return images, labels


def unpickle_batches(read: Callable[[str], bytes], split: str, where: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels [N] from the pickled batches of `split`; read(name) gives bytes."""
    images, labels = [], []
    for name in BATCHES[split]:
        try:
            data = read(name)
        except (KeyError, OSError) as error:
            raise ConfigError(f"dataset.root={str(where)!r} has no readable batch {name} ({error}); "
                              f"accepted: {LAYOUTS}") from error
        batch_images, batch_labels = read_batch(data, name, where)
        images.append(batch_images)
        labels.append(batch_labels)
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
