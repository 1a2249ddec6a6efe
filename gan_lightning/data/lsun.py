"""LSUN scenes (Yu et al. 2015) in their distributed LMDB format, e.g. bedroom_train_lmdb/ (data.mdb, lock.mdb).

Each record maps an image id to its encoded bytes (WebP in the distributed files; JPEG/PNG also decode);
images are center-cropped to a square and resized. By default the images are streamed: decoded from the
LMDB on every access, keeping only the record keys in memory (about 40 bytes per image: ~120 MB for the
3 M bedrooms); `storage: cache` decodes them once into a memory-mapped file, `memory` into RAM.
"""

import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import numpy as np
import torch

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.files import ON_CORRUPT
from gan_lightning.data.images import fit_image
from gan_lightning.data.sampler import check_int
from gan_lightning.data.stream import STORAGES, LazyImages, serve, source_identity
from gan_lightning.errors import ConfigError, check_choice

LAYOUT = "an extracted LSUN LMDB folder such as bedroom_train_lmdb/ (with data.mdb), or its data.mdb"
ENVS: dict[tuple[str, int], object] = {}  # open read-only environments by (path, process id)


class LmdbRecords:
    """The records of an LMDB, named by their keys; opened read-only, once per process (forked workers reopen)."""

    def __init__(self, path: Path, key: str = "dataset.root", limit: int | None = None,
                 on_corrupt: str = "error") -> None:
        check_choice("dataset.on_corrupt", on_corrupt, ON_CORRUPT)
        self.path, self.key = path, key
        # files.decode_each's corrupt-image policy; with skip, LazyImages serves the next record in its place
        self.on_corrupt, self.skipped = on_corrupt, []
        if not (path / "data.mdb").is_file() and not (path.is_file() and path.suffix == ".mdb"):
            raise ConfigError(f"{key}={str(path)!r} is not an LMDB; accepted: {LAYOUT} (unzip a downloaded .zip)")
        with self.env().begin() as txn:
            keys = txn.cursor().iternext(keys=True, values=False)
            # fixed-width bytes: 3 M LSUN keys fit in ~120 MB, where a list of str would take ~3x that
            self.keys = np.array([k for _, k in zip(range(limit or txn.stat()["entries"]), keys)], dtype=bytes)

    def env(self):
        """The environment, opened read-only once per process and path (LMDB refuses a second open, and
        handles must not cross a fork: forked workers open their own)."""
        key = (str(self.path.resolve()), os.getpid())
        if key not in ENVS:
            import lmdb  # a dependency of this dataset only

            try:
                ENVS[key] = lmdb.open(str(self.path), subdir=self.path.is_dir(), readonly=True, lock=False,
                                      readahead=False, meminit=False, max_readers=64)
            except lmdb.Error as error:
                raise ConfigError(f"{self.key}={str(self.path)!r} cannot be opened ({error}); "
                                  f"accepted: {LAYOUT}") from error
        return ENVS[key]

    @property
    def names(self) -> list[str]:
        """Every key, as text (LSUN keys are hex ids; latin-1 round-trips any bytes)."""
        return [k.decode("latin-1") for k in self.keys]

    def read(self, names: list[str]) -> Iterator[tuple[str, bytes]]:
        """Yield (name, bytes) for `names`; a missing record is a ConfigError."""
        with self.env().begin(buffers=False) as txn:
            for name in names:
                data = txn.get(name.encode("latin-1"))
                if data is None:
                    raise ConfigError(f"{self.key}={str(self.path)!r} has no record {name!r}; accepted: {LAYOUT}")
                yield name, data

    def where(self, name: str) -> str:
        """Where a user finds a record: path:key."""
        return f"{self.path}:{name}"


class LSUNDataModule(InMemoryDataModule):
    """One LSUN category from its LMDB, center-cropped and resized, streamed (default), cached or in memory."""

    name = "LSUN"

    def __init__(
        self,
        root: str,
        resolution: int = 64,
        channels: int = 3,
        storage: str = "stream",
        cache_dir: str | None = None,
        max_items: int | None = None,
        batch_size: int = 64,
        seed: int = 0,
        conditional: bool = False,
        num_workers: int = 0,
        on_corrupt: str = "error",
    ) -> None:
        super().__init__(resolution, channels, batch_size, seed, conditional, num_workers)
        check_choice("dataset.storage", storage, STORAGES)
        check_choice("dataset.on_corrupt", on_corrupt, ON_CORRUPT)
        self.on_corrupt = on_corrupt
        if max_items is not None:
            check_int("dataset.max_items", max_items, 1)
        self.root, self.storage, self.cache_dir, self.max_items = root, storage, cache_dir, max_items
        self.name = f"LSUN {Path(root).expanduser().name.removesuffix('_lmdb')}"  # e.g. "LSUN bedroom_train"

    def load(self) -> tuple[torch.Tensor | LazyImages, None]:
        """The images as `storage` says; LSUN has no labels."""
        path = Path(self.root).expanduser()
        records = LmdbRecords(path, limit=self.max_items, on_corrupt=self.on_corrupt)
        if not len(records.keys):
            raise ConfigError(f"dataset.root={self.root!r} holds no records; accepted: {LAYOUT}")
        self.source = f"{path} ({self.storage})"
        r, c = self.resolution, self.channels
        images = LazyImages(records, records.names, partial(fit_image, resolution=r, channels=c), (c, r, r))
        data_file = path / "data.mdb" if path.is_dir() else path  # not lock.mdb, which readers may touch
        description = lambda: {"dataset": "lsun", "source": source_identity(data_file), "items": len(images),  # noqa: E731
                               "resolution": r, "channels": c}
        return serve(images, self.storage, self.cache_dir, "lsun", description), None
