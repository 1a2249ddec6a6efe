"""Checkpoints by images seen: `last.ckpt` every `every_kimg` and at the end, written atomically."""
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Checkpoint

from gan_lightning.schedule import crossed


class KimgCheckpoint(Checkpoint):
    """Saves `<dirpath>/last.ckpt` each time the clock crosses a multiple of `every_kimg`, and at the end.

    Lightning writes through an fsspec transaction (temporary file, then rename), so an interrupted save
    never leaves a half-written `last.ckpt`. `snapshots` also keeps `kimg<NNNNNN>.ckpt` copies. Being a
    `Checkpoint`, it runs after the other callbacks (EMA is updated first) and replaces Lightning's default.
    """

    def __init__(self, dirpath: str, every_kimg: float = 50.0, snapshots: bool = False) -> None:
        self.dirpath = Path(dirpath)
        self.every_nimg = int(every_kimg * 1000)
        self.snapshots = snapshots

    def _save(self, trainer: L.Trainer, nimg: int) -> None:
        trainer.lightning_module.check_finite()  # never replace a good checkpoint with a diverged one
        trainer.save_checkpoint(self.dirpath / "last.ckpt", weights_only=False)
        if self.snapshots:
            trainer.save_checkpoint(self.dirpath / f"kimg{nimg // 1000:06d}.ckpt", weights_only=False)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        if pl_module.finished():
            return  # the end is saved by on_train_end
        if crossed(pl_module.nimg, pl_module.batch_nimg, self.every_nimg):
            self._save(trainer, pl_module.nimg)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer, pl_module.nimg)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt) and pl_module.batches > 0:
            self._save(trainer, pl_module.nimg)  # Ctrl-C keeps the work done so far
