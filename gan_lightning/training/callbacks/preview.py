"""Sample previews from a fixed z: G_ema's output rendered by the datamodule, saved and logged.

The datamodule decides how its data looks (an image grid, a 2D scatter plot), so this one callback
serves every dataset. Files are `<dirpath>/fakes<kimg>.png` with kimg to three decimals (`fakes000001.500.png`:
unique, and sorted by name is sorted by time), plus `reals.png` once; each image is sent to the loggers once,
at its images-seen step, so a resumed run neither repeats nor overwrites a preview.
"""
from pathlib import Path

import lightning as L
import torch

from gan_lightning.data.images import save_image
from gan_lightning.errors import check_number
from gan_lightning.training.callbacks.log import log_image
from gan_lightning.training.schedule import crossed

MAX_CLASS_ROWS = 32  # conditional previews show at most this many classes, one per row
CLASS_ROW_LENGTH = 8  # samples per class unless callbacks.preview.num_samples says otherwise


class Preview(L.Callback):
    """Every `every_kimg`, renders G_ema(z_fixed) through `trainer.datamodule.preview` to PNG and loggers."""

    def __init__(self, dirpath: str, every_kimg: float = 5.0, num_samples: int | None = None, seed: int = 0,
                 standing_batches: int = 4) -> None:
        self.dirpath = Path(dirpath)
        self.every_nimg = int(check_number("callbacks.preview.every_kimg", every_kimg, 0) * 1000)  # 0: start and end
        self.num_samples = check_number("callbacks.preview.num_samples", num_samples, 1, integer=True, nullable=True)
        self.size = num_samples or 64  # settled in on_train_start, once the datamodule is known
        self.seed = seed
        # G_ema's batch-norm statistics for a preview: 4 batches of 64 z, a quarter of the cost of the 16 that
        # metrics and generate use (the bulk of a preview's time for a batch-norm G). The images differ from
        # those by less than 16 batches of other z do (bench/RESULTS.md, throughput section).
        self.standing_batches = check_number("callbacks.preview.standing_batches", standing_batches, 1, integer=True)

    def fixed_inputs(self, pl_module: L.LightningModule) -> tuple[torch.Tensor, torch.Tensor | None, int | None]:
        """The same z (and labels) for every preview of a run, resumed or not, and the grid's columns.

        Conditional nets: one class per row (the first MAX_CLASS_ROWS classes), the same z down each column.
        """
        g = torch.Generator().manual_seed(self.seed)
        c_dim = getattr(pl_module.generator, "c_dim", 0)
        if not c_dim:
            return torch.randn(self.size, pl_module.z_dim, generator=g).to(pl_module.device), None, None
        rows = min(c_dim, MAX_CLASS_ROWS)
        cols = max(1, self.num_samples // rows) if self.num_samples else CLASS_ROW_LENGTH
        z = torch.randn(cols, pl_module.z_dim, generator=g).repeat(rows, 1)  # [rows * cols, z_dim]
        c = torch.arange(rows).repeat_interleave(cols)  # 0 0 0 ... 1 1 1 ...
        return z.to(pl_module.device), c.to(pl_module.device), cols

    @torch.no_grad()
    def render(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        path = self.dirpath / f"fakes{pl_module.nimg / 1000:010.3f}.png"
        if path.exists():  # this clock was rendered already (the last batch crossed an interval, or a resume)
            return
        z, c, cols = self.fixed_inputs(pl_module)
        G_ema = pl_module.ema_generator(self.standing_batches)  # batch-norm statistics of its own
        fakes = torch.cat([G_ema(zi, ci) for zi, ci in _chunks(z, c, 256)])
        image = trainer.datamodule.preview(fakes.float().cpu(), cols=cols)
        save_image(image, path)
        log_image(trainer, "samples/fakes", image, pl_module.nimg)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # None: as many as the data asks for (an image grid of 64, a scatter plot of 1024 points)
        self.size = self.num_samples or trainer.datamodule.preview_size
        if trainer.is_global_zero and not (self.dirpath / "reals.png").exists():
            image = trainer.datamodule.preview(trainer.datamodule.real_samples(self.size), real=True)
            save_image(image, self.dirpath / "reals.png")
            log_image(trainer, "samples/reals", image, pl_module.nimg)
        self.render(trainer, pl_module)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if crossed(pl_module.nimg, pl_module.batch_nimg, self.every_nimg):
            self.render(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.render(trainer, pl_module)


def _chunks(z: torch.Tensor, c: torch.Tensor | None, size: int):
    for i in range(0, z.shape[0], size):
        yield z[i : i + size], None if c is None else c[i : i + size]
