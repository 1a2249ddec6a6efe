"""Logging on one x-axis, images seen (`nimg`), to every logger; loggers that continue a resumed run.

`log_scalars` and `log_image` are what the module's callbacks (losses, previews, metrics, schedules) call:
scalars and images share the step `nimg`, an integer, so TensorBoard and wandb curves line up (kimg is
`step / 1000`; CSV rows also carry `progress/kimg`). Values are read from the device here, so callers
call these at their logging interval, never on every batch.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Mapping
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch import loggers
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from PIL import Image


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


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, but an existing `metrics.csv` is continued instead of deleted."""

    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as file:
                self.metrics_keys = sorted(next(csv.reader(file), []))  # new rows keep the header's columns


class CSVLogger(loggers.CSVLogger):
    """`<save_dir>/<name>/metrics.csv`, one row per logging interval; a resumed run appends its rows."""

    @property
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            os.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment


class WandbLogger(loggers.WandbLogger):
    """Lightning's wandb logger without its `anonymous=None`, which makes wandb print a deprecation warning.

    Give it an `id` and `resume="allow"` (conf/logger/wandb.yaml does) and a resumed run continues the
    same wandb run.
    """

    def __init__(self, **kwargs: Any) -> None:
        if kwargs.get("tags") is not None:
            kwargs["tags"] = [str(tag) for tag in kwargs["tags"]]  # wandb wants plain strings, not a ListConfig
        super().__init__(**kwargs)
        if self._wandb_init.get("anonymous") is None:
            self._wandb_init.pop("anonymous", None)

    def close(self) -> None:
        """Finish the wandb run, so the next run of a sweep in this process starts its own."""
        if self._experiment is not None:
            self._experiment.finish()
            self._experiment = None
