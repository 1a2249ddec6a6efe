"""Checkpoints by images seen: `last.ckpt` every `every_kimg`, at the end and on preemption, written atomically."""
import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.utilities.exceptions import SIGTERMException

from gan_lightning.errors import check_number
from gan_lightning.training.checkpoint_io import save_atomic
from gan_lightning.training.preemption import (
    SIGNALS,
    Preempted,
    SignalFlag,
    interrupted_line,
    requeue_slurm_job,
)
from gan_lightning.training.schedule import crossed

log = logging.getLogger(__name__)


class KimgCheckpoint(Checkpoint):
    """Saves `<dirpath>/last.ckpt` each time the clock crosses a multiple of `every_kimg`, and at the end.

    Writes go to a temporary file beside the checkpoint and are renamed over it (checkpoint.save_atomic), so
    a kill or a full disk mid-save leaves the previous `last.ckpt` whole. `snapshots` also keeps
    `kimg<NNNNNN>.ckpt` copies. On one of `signals` (SIGTERM, SIGUSR1: what SLURM sends) it saves at the end
    of the current batch and stops the run (preemption.py). Being a `Checkpoint`, it runs after the other
    callbacks (EMA is updated first) and replaces Lightning's default.
    """

    def __init__(self, dirpath: str, every_kimg: float = 50.0, snapshots: bool = False,
                 signals: list[str] | tuple[str, ...] = SIGNALS) -> None:
        self.dirpath = Path(dirpath)
        self.every_nimg = int(check_number("callbacks.checkpoint.every_kimg", every_kimg, 0) * 1000)  # 0: at the end
        self.snapshots = snapshots
        self.flag = SignalFlag(list(signals or ()))
        self.saved_nimg = -1

    def _save(self, trainer: L.Trainer, nimg: int) -> Path:
        path = self.dirpath / "last.ckpt"
        if trainer.lightning_module.check_finite(weights=True):  # never replace a good checkpoint with a diverged one
            return path  # rolled back to it (module.on_divergence=rollback)
        save_atomic(trainer, self.dirpath / "last.ckpt")
        if self.snapshots:
            save_atomic(trainer, self.dirpath / f"kimg{nimg // 1000:06d}.ckpt")
        self.saved_nimg = nimg
        return path

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.flag.install()  # after Lightning's own handlers (set in trainer.fit), which SIGTERM still reaches
        pl_module.rollback_path = self.dirpath / "last.ckpt"  # the last good state, for module.on_divergence

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if self.preempted(trainer, pl_module):
            path = self._save(trainer, pl_module.nimg)
            if self.flag.received == "SIGUSR1" and trainer.is_global_zero:
                requeue_slurm_job()
            raise Preempted(self.flag.received or "a signal on another process", pl_module.nimg, pl_module.batches,
                            path)
        if pl_module.finished():
            return  # the end is saved by on_train_end
        if crossed(pl_module.nimg, pl_module.batch_nimg, self.every_nimg):
            self._save(trainer, pl_module.nimg)

    def preempted(self, trainer: L.Trainer, pl_module: L.LightningModule) -> bool:
        """Whether a signal arrived on any process; with several, they agree at the check interval (a sync)."""
        if trainer.world_size == 1:
            return self.flag.received is not None
        if pl_module.batches % pl_module.finite_check_every:
            return False
        return trainer.strategy.reduce_boolean_decision(self.flag.received is not None, all=False)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.saved_nimg != pl_module.nimg:
            self._save(trainer, pl_module.nimg)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # Ctrl-C, or Lightning's own stop on SIGTERM (a signal our flag missed), keeps the work done so far
        stopped = isinstance(exception, (KeyboardInterrupt, SIGTERMException))
        saved = self.dirpath / "last.ckpt" if pl_module.batches > 0 else None
        if stopped and saved is not None and self.saved_nimg != pl_module.nimg:
            saved = self._save(trainer, pl_module.nimg)
        if isinstance(exception, KeyboardInterrupt) and trainer.is_global_zero:  # Lightning then exits with 1
            log.info(interrupted_line(pl_module.nimg, pl_module.batches, saved))

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.flag.restore()
