"""The losses of the last batch, logged every `every_kimg` and at the end, at the images-seen step."""
import logging

import lightning as L

from gan_lightning.errors import check_number
from gan_lightning.loggers import log_scalars
from gan_lightning.schedule import crossed

record = logging.getLogger("gan_lightning.record")  # train.log only (conf/hydra/default.yaml)


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
