"""CelebA (Liu et al. 2015) and CelebA-HQ (Karras et al. 2018) from the folders or archives as distributed.

CelebA: img_align_celeba/ or img_align_celeba.zip (202,599 aligned 178x218 JPEGs), optionally split by
list_eval_partition.txt. The usual GAN face crop (DCGAN-TensorFlow, BEGAN, the GAN Landscape code) is a
centred `crop_size` square (108 px) resized to `resolution` (64). CelebA-HQ: any folder or archive of the
30,000 aligned square faces (PGGAN's data1024x1024/, CelebAMask-HQ's CelebA-HQ-img/, StarGAN v2's
celeba_hq/{train,val}/{female,male}/), resized to `resolution` (128). Both are decoded into memory by
default; `storage: cache` decodes them once into a memory-mapped file (instant on later runs).
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.files import ON_CORRUPT, ImageFiles
from gan_lightning.data.images import fit_image, mode_for
from gan_lightning.data.sampler import check_int
from gan_lightning.data.stream import STORAGES, LazyImages, serve, source_identity
from gan_lightning.errors import ConfigError, check_choice

SPLITS = {"all": None, "train": "0", "valid": "1", "test": "2"}  # list_eval_partition.txt codes
PARTITION = "list_eval_partition.txt"


def center_crop(img: Image.Image, size: int) -> Image.Image:
    """The centred size x size square of `img` (the whole image when it is smaller)."""
    w, h = img.size
    if size >= min(w, h):
        return img
    left, top = (w - size) // 2, (h - size) // 2
    return img.crop((left, top, left + size, top + size))


def find_images(root: Path, folder: str, on_corrupt: str = "error") -> ImageFiles:
    """`root` itself (a folder or archive of images), or root/<folder> or root/<folder>.zip inside it."""
    for candidate in (root / folder, root / f"{folder}.zip"):
        if candidate.exists():
            return ImageFiles(candidate, on_corrupt=on_corrupt)
    return ImageFiles(root, on_corrupt=on_corrupt)


def read_partition(root: Path, files: ImageFiles, split: str) -> list[str]:
    """The image names of `split` from list_eval_partition.txt (next to the images or in root)."""
    if SPLITS[split] is None:
        return files.names
    for candidate in (root / PARTITION, root.parent / PARTITION, root / "Eval" / PARTITION):
        if candidate.is_file():
            lines = (line.split() for line in candidate.read_text().splitlines())
            wanted = {parts[0] for parts in lines if len(parts) == 2 and parts[1] == SPLITS[split]}
            return [n for n in files.names if Path(n).name in wanted]
    raise ConfigError(f"dataset.split={split!r} needs {PARTITION} in dataset.root={str(root)!r} or next to it; "
                      "accepted: split=all, or the partition file as distributed")


class CelebADataModule(InMemoryDataModule):
    """Aligned CelebA faces: a centred crop_size square resized to resolution; no labels."""

    name = "CelebA"
    folder = "img_align_celeba"

    def __init__(
        self,
        root: str,
        resolution: int = 64,
        channels: int = 3,
        crop_size: int | None = 108,
        split: str = "all",
        storage: str = "memory",
        cache_dir: str | None = None,
        batch_size: int = 64,
        seed: int = 0,
        conditional: bool = False,
        num_workers: int = 0,
        on_corrupt: str = "error",
    ) -> None:
        super().__init__(resolution, channels, batch_size, seed, conditional, num_workers)
        check_choice("dataset.split", split, tuple(SPLITS))
        check_choice("dataset.storage", storage, STORAGES)
        check_choice("dataset.on_corrupt", on_corrupt, ON_CORRUPT)
        self.on_corrupt = on_corrupt  # error, or skip: the next image that decodes is served in its place
        if crop_size is not None:
            check_int("dataset.crop_size", crop_size, 1)
        self.root, self.crop_size, self.split = root, crop_size, split
        self.storage, self.cache_dir = storage, cache_dir

    def fit(self, img: Image.Image) -> np.ndarray:
        """Crop (when crop_size is set), then fit_image's square crop and resize: uint8 [C, R, R]."""
        img = img.convert(mode_for(self.channels))
        if self.crop_size is not None:
            img = center_crop(img, self.crop_size)
        return fit_image(img, self.resolution, self.channels)

    def load(self) -> tuple[torch.Tensor | LazyImages, None]:
        """The faces as `storage` says."""
        root = Path(self.root).expanduser()
        files = find_images(root, self.folder, self.on_corrupt)
        names = read_partition(root, files, self.split)
        if not names:
            raise ConfigError(f"dataset.root={self.root!r} has no {self.split} images; accepted: the "
                              f"{self.folder}/ folder or .zip as distributed, or any folder of face images")
        self.source = f"{files.path} ({self.storage})"
        self.noun = "faces" if self.split == "all" else f"{self.split} faces"
        r, c = self.resolution, self.channels
        images = LazyImages(files, names, self.fit, (c, r, r))
        description = lambda: {"dataset": self.name, "source": source_identity(files.path),  # noqa: E731
                               "split": self.split, "items": len(names), "crop_size": self.crop_size,
                               "resolution": r, "channels": c}
        return serve(images, self.storage, self.cache_dir, self.name.lower(), description), None


class CelebAHQDataModule(CelebADataModule):
    """CelebA-HQ: the aligned square faces, resized to resolution (128 by default); no crop."""

    name = "CelebA-HQ"
    folder = "data1024x1024"

    def __init__(self, root: str, resolution: int = 128, channels: int = 3, crop_size: int | None = None,
                 **kwargs) -> None:
        super().__init__(root, resolution, channels, crop_size, **kwargs)
