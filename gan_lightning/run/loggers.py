"""Loggers that continue a resumed run: the CSV file is appended to, wandb resumes the same run id.

What is logged, at the images-seen step, is training/callbacks/log.py (`log_scalars`, `log_image`).
"""
from __future__ import annotations

import csv
import logging
import os
from typing import Any

from lightning.pytorch import loggers
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

log = logging.getLogger(__name__)


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, but an existing `metrics.csv` is continued instead of deleted."""

    def _check_log_dir_exists(self) -> None:
        if os.path.isfile(self.metrics_file_path):
            with open(self.metrics_file_path, newline="") as file:
                self.metrics_keys = sorted(next(csv.reader(file), []))  # new rows keep the header's columns


    failed = False

    def save(self) -> None:
        """Write the new rows; a full disk is one warning (once), and the rows stay for the next save."""
        try:
            super().save()
        except OSError as error:
            if not self.failed:
                self.failed = True
                log.warning("warning: cannot write %s (%s); its rows are kept and written when there is room",
                            self.metrics_file_path, error.strerror or error)


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
