"""Drives a schedule of the images-seen clock: stage of every growing net, fade of the reals, batch size, lr.

Any net with `grow(resolution, alpha)` (PGGAN's, or a later family's) is driven; the callback knows nothing
else about it. Everything is recomputed from `nimg` before each batch, so a resumed run continues exactly.
"""
import math
from functools import partial

import lightning as L
from torch import Tensor

from gan_lightning.errors import ConfigError
from gan_lightning.nets.eqlr import fade_resolution
from gan_lightning.training.schedule import ProgressiveSchedule, Stage


def check_hooks(trainer: L.Trainer, key: str) -> L.LightningDataModule:
    """The trainer's datamodule; ConfigError unless it has the hooks a schedule sets (real_transform, batch_size_fn)."""
    datamodule = trainer.datamodule
    if not hasattr(datamodule, "real_transform") or not hasattr(datamodule, "batch_size_fn"):
        raise ConfigError(f"{key} needs a datamodule with real_transform and batch_size_fn "
                          f"(an InMemoryDataModule); got {type(datamodule).__name__}")
    return datamodule


def set_learning_rates(trainer: L.Trainer, source: str, lr: float | None = None, factor: float = 1.0) -> None:
    """Every optimizer's lr from what each schedule sets under its `source` name: a schedule's rate `lr` (PGGAN's
    per-stage rates; None: the configured rate) times the factors of every source (callbacks.lr_decay,
    SinGAN's per-scale decay, a divergence rollback), so schedules multiply instead of overwriting each other."""
    for optimizer in trainer.optimizers:
        for group in optimizer.param_groups:
            base = group.setdefault("base_lr", group["lr"])  # the configured rate; saved with the optimizer
            rates = group.setdefault("scheduled_lr", {})  # source -> rate; saved too, so resumes are exact
            factors = group.setdefault("lr_factors", {})
            if lr is None:
                rates.pop(source, None)
            else:
                rates[source] = lr
            factors[source] = factor
            group["lr"] = min(rates.values(), default=base) * math.prod(factors.values())


class Progressive(L.Callback):
    """Sets the stage of G, G_ema and D, the datamodule's real-image fade and batch size, and the lr."""

    def __init__(self, schedule: ProgressiveSchedule) -> None:
        self.schedule = schedule
        self.stage: Stage | None = None  # the stage of the last batch

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        datamodule = check_hooks(trainer, "callbacks.progressive")
        datamodule.batch_size_fn = self.schedule.batch_size_at
        datamodule.real_transform = partial(self.fade_reals, pl_module)

    def fade_reals(self, pl_module: L.LightningModule, real: Tensor) -> Tensor:
        """Reals as D sees them at the stage of this batch (runs before on_train_batch_start, so from nimg)."""
        stage = self.schedule.at(pl_module.nimg)
        return fade_resolution(real, stage.resolution, stage.alpha)

    def apply(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Stage:
        """Set the stage at the module's clock on every child net that grows, and the optimizers' lr."""
        stage = self.schedule.at(pl_module.nimg)
        for net in pl_module.children():
            if callable(getattr(net, "grow", None)):
                net.grow(stage.resolution, stage.alpha)
        set_learning_rates(trainer, "progressive", lr=stage.lr)
        return stage

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.apply(trainer, pl_module)  # after a resume too: previews at train start show the right stage

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        self.stage = self.apply(trainer, pl_module)

    def scalars(self) -> dict[str, float]:
        """The last batch's stage, logged with its losses by callbacks.log (plain numbers: no tensor per batch)."""
        if self.stage is None:
            return {}
        return {"schedule/resolution": float(self.stage.resolution), "schedule/alpha": self.stage.alpha,
                "schedule/batch_size": float(self.stage.batch_size)}
