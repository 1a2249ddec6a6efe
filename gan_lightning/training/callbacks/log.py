"""Logging on one x-axis, images seen (`nimg`), to every logger; the losses of the last batch every `every_kimg`.

`log_scalars` and `log_image` are what the callbacks (losses, previews, metrics, schedules) call: scalars and
images share the step `nimg`, an integer, so TensorBoard and wandb curves line up (kimg is `step / 1000`;
CSV rows also carry `progress/kimg`). Values are read from the device here, so callers call these at their
logging interval, never on every batch.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping

import lightning as L
import numpy as np
import torch
from PIL import Image

from gan_lightning.errors import check_number
from gan_lightning.training.schedule import crossed

record = logging.getLogger("gan_lightning.record")  # train.log only (conf/hydra/default.yaml)


def log_scalars(trainer: L.Trainer, scalars: Mapping[str, float | torch.Tensor], nimg: int) -> dict[str, float]:
    """Send scalars to every logger at step `nimg`; they also become `trainer.callback_metrics` (sweeps)."""
    values = {key: float(value) for key, value in scalars.items()}  # the host sync, once per interval
    trainer.callback_metrics.update({key: torch.tensor(value) for key, value in values.items()})
    if trainer.is_global_zero:
        for logger in trainer.loggers:
            logger.log_metrics(values, step=nimg)
    return values


def log_image(trainer: L.Trainer, key: str, image: Image.Image, nimg: int) -> None:
    """Send a PIL image to every logger that takes images (TensorBoard, wandb) at step `nimg`."""
    if not trainer.is_global_zero:
        return
    for logger in trainer.loggers:
        if hasattr(logger, "log_image"):  # WandbLogger
            logger.log_image(key=key, images=[image], step=nimg)
        elif hasattr(getattr(logger, "experiment", None), "add_image"):  # TensorBoard SummaryWriter
            logger.experiment.add_image(key, np.asarray(image.convert("RGB")), nimg, dataformats="HWC")


class LogLosses(L.Callback):
    """Sends `pl_module.last_logs` (loss/*, reg/*, logits/*), `progress/kimg` and the numbers of every callback
    with a `scalars()` method (a schedule's stage) to every logger and train.log.

    The losses are tensors on the device: reading them is a host sync, so it happens only here, once per
    interval, not on every batch.
    """

    def __init__(self, every_kimg: float = 1.0) -> None:
        self.every_nimg = int(check_number("callbacks.log.every_kimg", every_kimg, 0) * 1000)  # 0: at the end only
        self.logged_nimg = -1

    def write(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if pl_module.nimg == self.logged_nimg or not pl_module.last_logs:
            return
        self.logged_nimg = pl_module.nimg
        extra = {key: value for callback in trainer.callbacks if callable(getattr(callback, "scalars", None))
                 for key, value in callback.scalars().items()}
        scalars = {**pl_module.last_logs, **extra, "progress/kimg": pl_module.nimg / 1000}
        values = log_scalars(trainer, scalars, pl_module.nimg)
        if trainer.is_global_zero:
            record.info("kimg %.3f batch %d | %s", pl_module.nimg / 1000, pl_module.batches,
                        " ".join(f"{key} {value:.4g}" for key, value in values.items() if key != "progress/kimg"))

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if crossed(pl_module.nimg, pl_module.batch_nimg, self.every_nimg):
            self.write(trainer, pl_module)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.write(trainer, pl_module)
