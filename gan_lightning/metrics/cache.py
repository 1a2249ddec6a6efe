"""Real-data features cached on disk, once per dataset, split, resolution, network, weights hash and count.

The file name reads as the key (`mnist-train-32px-c1-inception-v3-fid-7ff4a85c-n10000-<digest>.pt`); the
digest covers every part of the key, including where the data came from and how the images were chosen,
and the file stores the key itself, checked on load. The key holds what the pixels depend on: the
datamodule's options (its class, crop, split, resolution, paths, transforms: `pixel_config()`), the size,
newest modification time and count of its files, and a sha256 of the first chosen images as served, so a
changed crop, a changed file or changed preprocessing code never reuses stale features.
Writes are atomic (temporary file, then rename).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from gan_lightning.metrics.features import FeatureNet


def default_cache_dir() -> Path:
    """$GAN_CACHE_DIR, else ~/.cache/gan_lightning."""
    return Path(os.environ.get("GAN_CACHE_DIR") or "~/.cache/gan_lightning").expanduser()


PIXEL_SAMPLE = 64  # chosen images whose bytes the key hashes


def pixels_digest(images: torch.Tensor) -> str:
    """sha256 of uint8 images [N, C, H, W] (their shape and bytes)."""
    images = images.detach().cpu().contiguous()
    digest = hashlib.sha256(str(tuple(images.shape)).encode())
    digest.update(images.numpy().tobytes())
    return digest.hexdigest()


def real_key(dataset: dict[str, Any], network: FeatureNet, n: int, seed: int,
             pixels: str | None = None) -> dict[str, Any]:
    """Everything the real features depend on: the data (options, files, the pixels of the first chosen
    images: `pixels`, a pixels_digest), the images chosen, the network and its weights."""
    return {
        "dataset": dataset.get("name"), "source": dataset.get("source"), "split": dataset.get("split"),
        "resolution": dataset.get("resolution"), "channels": dataset.get("channels"),
        "dataset_size": dataset.get("size"), "config": dataset.get("config"), "files": dataset.get("files"),
        "pixels_sha256": pixels, "n": n, "selection": f"first {n} of a permutation seeded {seed}",
        "network": network.name, "weights_sha256": network.weights_hash, "preprocess": network.preprocess,
    }


def key_name(key: dict[str, Any]) -> str:
    """A file name that names the key's main parts and ends with a digest of all of it."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    parts = [key["dataset"], key["split"], f"{key['resolution']}px", f"c{key['channels']}", key["network"],
             str(key["weights_sha256"])[:8], f"n{key['n']}", digest]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(str(p) for p in parts)).lower() + ".pt"


def load_features(directory: Path, key: dict[str, Any]) -> torch.Tensor | None:
    """The cached features [n, d] for `key`, or None when absent or stored under another key."""
    path = directory / key_name(key)
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a truncated or foreign file: recompute and overwrite
        return None
    if stored.get("key") != json.loads(json.dumps(key, default=str)):
        return None
    return stored["features"]


def save_features(directory: Path, key: dict[str, Any], features: torch.Tensor) -> Path:
    """Write features [n, d] under `key`, atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / key_name(key)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({"key": json.loads(json.dumps(key, default=str)), "features": features.float().cpu()}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
