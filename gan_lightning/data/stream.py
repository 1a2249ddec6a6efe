"""Large datasets: images decoded on access (streamed from disk) or once into a memory-mapped uint8 cache.

Both look like the uint8 tensor [N, C, H, W] the base datamodule serves (`len`, `shape`, `dtype`, indexing),
so the resumable sampler, previews and metrics work unchanged. Memory: streaming keeps only the record
names (tens of bytes per image) and the batch being decoded; the cache is a `.npy` file mapped with
numpy's memmap, so its pages live in the OS page cache (shared, evictable), not in the process heap.
"""

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from gan_lightning.data.files import SHOWN_SKIPPED, decode_each
from gan_lightning.errors import ConfigError

log = logging.getLogger(__name__)

CACHE_VERSION = 1  # bump when the decoding changes, so old caches are rebuilt
CHUNK = 1024  # images decoded per step while building a cache


class Records(Protocol):
    """Named encoded images: files.ImageFiles, lsun.LmdbRecords."""

    path: Path
    key: str
    on_corrupt: str  # error | skip (dataset.on_corrupt)
    skipped: list[str]

    @property
    def names(self) -> list[str]: ...

    def read(self, names: list[str]) -> Iterator[tuple[str, bytes]]: ...

    def where(self, name: str) -> str: ...


class LazyImages:
    """uint8 images [N, C, R, R] decoded from `records` (through files.decode_each) on every access.

    With `records.on_corrupt == "skip"` an image that cannot be decoded is served as the next one that can:
    the dataset keeps its length and positions, so its streamed, cached and in-memory copies serve the same
    batches, and a resumed run the same data order. Each such image is logged once, with the count so far.
    """

    dtype = torch.uint8

    def __init__(self, records: Records, names: list[str], fit: Callable[[Image.Image], np.ndarray],
                 shape: tuple[int, int, int]) -> None:
        self.records, self.names, self.fit = records, names, fit
        self.shape = torch.Size((len(names), *shape))
        self.standin: dict[int, int] = {}  # position of a corrupt image -> the position served in its place
        self.corrupt: set[int] = set()

    device = torch.device("cpu")  # where batches are made (base.TensorBatches and train_dataloader ask)
    is_cuda = False

    def __len__(self) -> int:
        return len(self.names)

    @property
    def nbytes(self) -> int:
        """The size decoded (callbacks.speed keeps small datasets on the GPU)."""
        return self.shape.numel()

    def to(self, device: torch.device | str) -> torch.Tensor:
        """Every image decoded, on `device` (for small sets only: see nbytes)."""
        return self[:].to(device)

    def __getitem__(self, index: int | slice | list[int] | torch.Tensor) -> torch.Tensor:
        """Decode the images at `index` (an int gives [C, H, W], anything else [n, C, H, W])."""
        if isinstance(index, int):
            return self[[index]][0]
        if isinstance(index, slice):
            positions = list(range(*index.indices(len(self))))
        else:  # a tensor or list of positions (no arange over a dataset of millions per batch)
            positions = [p % len(self) for p in torch.as_tensor(index, dtype=torch.int64).reshape(-1).tolist()]
        unique = sorted(set(positions))  # a batch may repeat an image when it wraps an epoch
        if not unique:
            return torch.empty((0, *self.shape[1:]), dtype=torch.uint8)
        served = self._decode(unique)
        return torch.from_numpy(np.stack([served[p] for p in positions]))

    def _decode(self, positions: list[int]) -> dict[int, np.ndarray]:
        """position -> image; a corrupt one (on_corrupt=skip) gives the next position that decodes."""
        targets = sorted({self.standin.get(p, p) for p in positions})
        arrays = dict(zip(targets, decode_each(self.records, [self.names[t] for t in targets], self.fit)))
        served = {}
        for p in positions:
            t = self.standin.get(p, p)
            while True:
                if t not in arrays:
                    arrays[t] = decode_each(self.records, [self.names[t]], self.fit)[0]
                if arrays[t] is not None:
                    break
                self._found_corrupt(t)
                t = (t + 1) % len(self)
                if t == p:
                    raise ConfigError(f"{self.records.key}={str(self.records.path)!r}: none of its {len(self)} "
                                      "images can be decoded; accepted: readable images")
            if t != p:
                self.standin[p] = t
            served[p] = arrays[t]
        return served

    def _found_corrupt(self, position: int) -> None:
        if position in self.corrupt:
            return
        self.corrupt.add(position)
        n = len(self.corrupt)
        level = logging.WARNING if n <= SHOWN_SKIPPED or n % 100 == 0 else logging.DEBUG
        log.log(level, "dataset.on_corrupt=skip: cannot decode %s; the next image that decodes is served in its "
                "place (%d of %d images skipped so far)", self.records.where(self.names[position]), n, len(self))


def cache_key(description: dict) -> str:
    """A short hash of everything the cached pixels depend on."""
    text = json.dumps({**description, "version": CACHE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def memmap_cache(images: LazyImages, cache_dir: str | os.PathLike, name: str, description: dict) -> torch.Tensor:
    """`images` decoded once into `<cache_dir>/<name>-<key>.npy` and memory-mapped (instant on later runs).

    The key hashes `description` (source path and identity, resolution, channels, crop), so a changed source
    or resolution builds a new file. The file is written under a temporary name and renamed when complete,
    so an interrupted build is never mistaken for a cache.
    """
    folder = Path(cache_dir).expanduser()
    path = folder / f"{name}-{cache_key(description)}.npy"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        log.info("building the image cache %s (%d images; once)", path, len(images))
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=tuple(images.shape))
            for start in range(0, len(images), CHUNK):
                out[start : start + CHUNK] = images[start : start + CHUNK].numpy()
            out.flush()
            del out
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        path.with_suffix(".json").write_text(json.dumps(description, indent=1, sort_keys=True, default=str))
    # copy-on-write: a writable array (torch wants one) whose changes never reach the file
    array = np.load(path, mmap_mode="c")
    if array.shape != tuple(images.shape):  # a hash collision or a file edited by hand
        raise RuntimeError(f"image cache {path} holds {array.shape}; expected {tuple(images.shape)}: delete it")
    return torch.from_numpy(array)


def source_identity(path: Path) -> dict:
    """What changes when a file or folder tree changes: total size and newest modification time."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    stats = [p.stat() for p in files]
    return {"path": str(path.resolve()), "bytes": sum(s.st_size for s in stats),
            "mtime": max((s.st_mtime_ns for s in stats), default=0), "files": len(stats)}


STORAGES = ("stream", "cache", "memory")  # dataset.storage of the streamed datasets (serve below)


def serve(images: LazyImages, storage: str, cache_dir: str | None, name: str,
          describe: Callable[[], dict]) -> torch.Tensor | LazyImages:
    """The images as served: `memory` (all decoded now), `stream` (decoded on access) or `cache` (memmap);
    `describe()` gives what the cache key hashes (called only for the cache: it may stat many files)."""
    if storage == "stream":
        return images
    if storage == "cache":
        return memmap_cache(images, cache_dir or ".", name, describe())
    return images[:]
