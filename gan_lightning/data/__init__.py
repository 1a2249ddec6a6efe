"""Datamodules: in-memory datasets served by an endless, resumable batch sampler."""

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.images import make_grid, save_image
from gan_lightning.data.sampler import InfiniteBatchSampler

__all__ = ["InMemoryDataModule", "InfiniteBatchSampler", "make_grid", "save_image"]
