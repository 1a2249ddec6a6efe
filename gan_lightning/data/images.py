"""Image helpers in pure torch/numpy/PIL: fit an image to a square resolution, grids, atomic PNG writes."""

import math
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from gan_lightning.errors import ConfigError

MODES = {1: "L", 3: "RGB"}


def mode_for(channels: int) -> str:
    """The PIL mode that holds `channels` channels."""
    check_channels(channels)
    return MODES[channels]


def check_channels(channels: int, name: str = "dataset.channels") -> None:
    """Raise ConfigError unless `channels` is 1 (grayscale) or 3 (RGB)."""
    if channels not in MODES:
        raise ConfigError(f"{name}={channels!r} is not supported; accepted: 1 (grayscale) or 3 (RGB)")


def fit_image(
    img: Image.Image, resolution: int, channels: int, resample: int = Image.Resampling.LANCZOS
) -> np.ndarray:
    """Convert, center-crop to a square and resize one image; returns uint8 [C, H, W]."""
    img = img.convert(mode_for(channels))
    w, h = img.size
    side = min(w, h)
    if w != h:
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
    if side != resolution:
        img = img.resize((resolution, resolution), resample)
    array = np.asarray(img, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def fit_batch(
    images: torch.Tensor, resolution: int, channels: int, resample: int = Image.Resampling.LANCZOS
) -> torch.Tensor:
    """Apply fit_image to a uint8 [N, C, H, W] batch; a batch already in shape is returned as it is."""
    n, c, h, w = images.shape
    if (c, h, w) == (channels, resolution, resolution):
        return images
    array = images.numpy()
    out = np.empty((n, channels, resolution, resolution), dtype=np.uint8)
    for i in range(n):
        pixels = array[i, 0] if c == 1 else array[i].transpose(1, 2, 0)  # PIL wants [H, W] or [H, W, C]
        out[i] = fit_image(Image.fromarray(pixels), resolution, channels, resample)
    return torch.from_numpy(out)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Map floats in [-1, 1] to uint8 [0, 255] on the same device, rounding to nearest."""
    return ((x.detach().float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def make_grid(samples: torch.Tensor, padding: int = 2, cols: int | None = None) -> Image.Image:
    """Tile images [N, C, H, W] in [-1, 1] into rows of `cols` (default ceil(sqrt(N))), black `padding` px around."""
    n, c, h, w = samples.shape
    check_channels(c, name="samples.channels")
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = torch.zeros(c, rows * (h + padding) + padding, cols * (w + padding) + padding, dtype=torch.uint8)
    pixels = to_uint8(samples).cpu()
    for i in range(n):
        top = padding + (i // cols) * (h + padding)
        left = padding + (i % cols) * (w + padding)
        grid[:, top : top + h, left : left + w] = pixels[i]
    array = grid[0].numpy() if c == 1 else grid.permute(1, 2, 0).numpy()
    return Image.fromarray(array)  # uint8 [H, W] -> 'L', [H, W, 3] -> 'RGB'


def save_image(img: Image.Image, path: str | os.PathLike) -> Path:
    """Write `img` to `path` atomically (a temporary file in the same folder, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        img.save(tmp, format=Image.registered_extensions().get(path.suffix.lower(), "PNG"))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
