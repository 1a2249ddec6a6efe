"""Folder-vs-folder metrics, as pytorch-fid and clean-fid offer them: two sets of images on disk (a folder, an
archive, or an `.npz` of uint8 images), or a set of images against a reference's statistics (`mu`, `sigma` in
an `.npz`, pytorch-fid's format), through the same feature networks and metrics as a checkpoint's evaluation.

`python -m gan_lightning.evaluate fakes=DIR reals=DIR metrics=[fid,kid,pr]`;
`python -m gan_lightning.evaluate reals=DIR save_stats=stats.npz` writes the reals' `mu` and `sigma`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor
from torchmetrics.image.fid import _compute_fid

from gan_lightning.data.files import ImageFiles, read_image_folder
from gan_lightning.errors import ConfigError
from gan_lightning.metrics.features import FeatureNet

ACCEPTED = "a folder, .zip or .tar of images, or an .npz of uint8 images [N, H, W, C] (arr_0 or images)"


def is_stats(path: str | Path) -> bool:
    """Whether `path` is an .npz of statistics (`mu`, `sigma`) rather than of images."""
    path = Path(path).expanduser()
    if path.suffix != ".npz" or not path.is_file():
        return False
    with np.load(path) as data:
        return {"mu", "sigma"} <= set(data.files)


def read_stats(path: str | Path, key: str = "reals") -> tuple[Tensor, Tensor]:
    """`mu` [d] and `sigma` [d, d] of a pytorch-fid statistics file, as float64."""
    with np.load(Path(path).expanduser()) as data:
        mu, sigma = np.asarray(data["mu"], np.float64), np.asarray(data["sigma"], np.float64)
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise ConfigError(f"{key}={str(path)!r} holds mu {list(mu.shape)} and sigma {list(sigma.shape)}; accepted: "
                          "mu [d] and sigma [d, d] (pytorch-fid's .npz)")
    return torch.from_numpy(mu), torch.from_numpy(sigma)


def save_stats(path: str | Path, features: Tensor) -> Path:
    """Write pytorch-fid's statistics (`mu`, `sigma`: mean and unbiased covariance, float64) of `features` [N, d]."""
    x = features.double().cpu().numpy()
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, mu=x.mean(axis=0), sigma=np.cov(x, rowvar=False))
    return path


def read_images(path: str | Path, key: str, resolution: int | None = None) -> Tensor:
    """uint8 images [N, 3, H, W] of a folder, archive or image .npz; folders are read at the size of their first
    image (or `resolution`), center-cropped to a square, as the datasets are."""
    path = Path(path).expanduser()
    if path.suffix == ".npz":
        if not path.is_file():
            raise ConfigError(f"{key}={str(path)!r} does not exist; accepted: {ACCEPTED}")
        with np.load(path) as data:
            name = next((n for n in ("images", "arr_0") if n in data.files), None)
            if name is None:
                raise ConfigError(f"{key}={str(path)!r} holds {', '.join(data.files)}; accepted: {ACCEPTED}")
            images = np.asarray(data[name])
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ConfigError(f"{key}={str(path)!r}: {name} is {images.dtype} {list(images.shape)}; accepted: "
                              "uint8 [N, H, W, C] with C 1 or 3")
        images = torch.from_numpy(images).permute(0, 3, 1, 2)
        return images.expand(-1, 3, -1, -1).contiguous() if images.shape[1] == 1 else images
    files = ImageFiles(path, key=key)
    if resolution is None and path.is_dir() and files.names:
        with Image.open(path / files.names[0]) as first:
            resolution = min(first.size)
    if resolution is None:
        raise ConfigError(f"{key}={str(path)!r} is an archive: give the size to read its images at; accepted: "
                          "resolution=<pixels>")
    images, _, _ = read_image_folder(files, resolution, 3, labels_from_subfolders=False)
    return images


def features_of(images: Tensor, net: FeatureNet, batch_size: int, device: torch.device | str) -> Tensor:
    """`net`'s features [N, d] of uint8 images, in chunks."""
    net.to(device)
    chunks = [net(images[i : i + batch_size].to(device)).double().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(chunks)


def fid_against_stats(features: Tensor, mu: Tensor, sigma: Tensor, key: str = "reals") -> float:
    """The Frechet distance of Gaussians fitted to `features` [N, d] and to (mu, sigma), float64."""
    if features.shape[1] != len(mu):
        raise ConfigError(f"{key}: the statistics are of {len(mu)} features, the network gives {features.shape[1]}; "
                          "accepted: statistics of the same network (the FID Inception pool3: 2048)")
    fake_mu, fake_sigma = features.mean(0), torch.cov(features.T)
    return float(_compute_fid(fake_mu, fake_sigma, mu, sigma))


def describe(path: str | Path, images: Tensor) -> dict[str, Any]:
    """What names a set of images in provenance."""
    return {"name": Path(path).name, "source": str(Path(path).expanduser().resolve()), "split": "files",
            "resolution": images.shape[-1], "channels": images.shape[1], "size": len(images)}
