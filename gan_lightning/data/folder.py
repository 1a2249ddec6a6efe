"""Any folder, .zip or .tar[.gz] of images, center-cropped to a square and resized."""

from pathlib import Path

import torch

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.files import ON_CORRUPT, ImageFiles, read_image_folder
from gan_lightning.errors import check_choice


class FolderDataModule(InMemoryDataModule):
    """Images found recursively under `root`; labels from the first-level sub-folder names when asked."""

    name = "folder"

    def __init__(
        self,
        root: str,
        resolution: int = 64,
        channels: int = 3,
        labels_from_subfolders: bool = False,
        batch_size: int = 64,
        seed: int = 0,
        conditional: bool = False,
        num_workers: int = 0,
        on_corrupt: str = "error",
    ) -> None:
        super().__init__(resolution, channels, batch_size, seed, conditional, num_workers)
        check_choice("dataset.on_corrupt", on_corrupt, ON_CORRUPT)
        self.on_corrupt = on_corrupt  # an image that cannot be decoded: error, or skip (count and names logged)
        self.root = root
        self.labels_from_subfolders = labels_from_subfolders
        self.class_names: list[str] = []

    def load(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Decode every image to uint8 [N, C, resolution, resolution]."""
        files = ImageFiles(Path(self.root).expanduser(), on_corrupt=self.on_corrupt)
        self.source = str(files.path)
        images, labels, self.class_names = read_image_folder(
            files, self.resolution, self.channels, self.labels_from_subfolders
        )
        return images, labels
