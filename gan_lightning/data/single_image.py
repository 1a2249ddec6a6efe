"""One image as a dataset (SinGAN): decoded once, its long side shrunk to `max_size`, its aspect ratio kept.

With `path` null the bundled photo is used (gan_lightning/data/assets/rocket.jpg: the DSCOVR launch on a
Falcon 9, released into the public domain by SpaceX, the copy scikit-image ships as `skimage.data.rocket`,
reduced to 256x171), so the default run needs no download. `image_size(path, max_size)` is also the
`gan.image_size` config resolver, so the nets' sizes in a run's config come from the image.
"""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.images import check_channels, mode_for
from gan_lightning.data.sampler import check_int
from gan_lightning.errors import ConfigError

BUNDLED_IMAGE = Path(__file__).resolve().parent / "assets" / "rocket.jpg"
ACCEPTED = "an image file (PNG, JPEG, BMP, WebP, ...), or null for the bundled photo"


def image_file(path: str | None) -> Path:
    """The file `dataset.path` names (the bundled photo for None); ConfigError when there is none."""
    file = BUNDLED_IMAGE if path is None else Path(str(path)).expanduser()
    if not file.is_file():
        raise ConfigError(f"dataset.path={str(path)!r} does not exist or is not a file; accepted: {ACCEPTED}")
    return file


def open_image(path: str | None, decode: bool = True) -> Image.Image:
    """The image at `path`, fully decoded unless `decode` is False (then its header only is read)."""
    file = image_file(path)
    try:
        img = Image.open(file)
        if decode:
            img.load()
    except Exception as error:  # PIL raises several types for unreadable or truncated files
        raise ConfigError(f"dataset.path={str(path)!r} is not a readable image ({type(error).__name__}: "
                          f"{error}); accepted: {ACCEPTED}") from None
    return img


def fitted_size(width: int, height: int, max_size: int) -> tuple[int, int]:
    """(height, width) once the long side is at most `max_size` (images are shrunk, never enlarged)."""
    check_int("dataset.max_size", max_size, 8)
    scale = min(1.0, max_size / max(width, height))
    return max(1, round(height * scale)), max(1, round(width * scale))


def image_size(path: str | None, max_size: int) -> list[int]:
    """[height, width] that the datamodule serves `path` at (reads the header only)."""
    return list(fitted_size(*open_image(path, decode=False).size, max_size))


class SingleImageDataModule(InMemoryDataModule):
    """A dataset of one image, [1, C, H, W] uint8; every batch is `batch_size` copies of it."""

    name = "single image"
    noun = "image"
    preview_size = 16

    def __init__(self, path: str | None = None, max_size: int = 128, channels: int = 3, batch_size: int = 1,
                 seed: int = 0, num_workers: int = 0) -> None:
        self.max_size = check_int("dataset.max_size", max_size, 8)
        super().__init__(max_size, channels, batch_size, seed, False, num_workers)
        self.path = path

    def check_shape(self, resolution: int, channels: int) -> None:
        check_channels(channels)

    def item_shape(self) -> tuple[int, int, int]:
        return (self.channels, *image_size(self.path, self.max_size))

    def load(self) -> tuple[torch.Tensor, None]:
        img = open_image(self.path).convert(mode_for(self.channels))
        self.source = str(image_file(self.path))
        height, width = fitted_size(*img.size, self.max_size)
        if (width, height) != img.size:
            img = img.resize((width, height), Image.Resampling.LANCZOS)
        array = np.asarray(img, dtype=np.uint8)
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)  # [C, H, W]
        return torch.from_numpy(array.copy())[None], None

    def describe(self) -> str:
        """One line for logs, e.g. 'single image: /path/photo.jpg at 85x128x3'."""
        _, height, width = self.data[0].shape[1:]
        return f"{self.name}: {self.source} at {height}x{width}x{self.channels}"
