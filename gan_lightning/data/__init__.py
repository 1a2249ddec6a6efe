"""Datamodules: datasets in memory, memory-mapped or streamed, served by an endless, resumable batch sampler."""

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.celeba import CelebADataModule, CelebAHQDataModule
from gan_lightning.data.cifar import CIFAR10DataModule
from gan_lightning.data.folder import FolderDataModule
from gan_lightning.data.images import make_grid, save_image
from gan_lightning.data.lsun import LSUNDataModule
from gan_lightning.data.mnist import MNISTDataModule
from gan_lightning.data.sampler import InfiniteBatchSampler
from gan_lightning.data.toy import ToyDataModule

__all__ = [
    "CelebADataModule",
    "CelebAHQDataModule",
    "CIFAR10DataModule",
    "FolderDataModule",
    "InMemoryDataModule",
    "InfiniteBatchSampler",
    "LSUNDataModule",
    "MNISTDataModule",
    "ToyDataModule",
    "make_grid",
    "save_image",
]
