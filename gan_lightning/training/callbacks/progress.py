"""One progress bar over the whole run (total_kimg, total_g_steps or trainer.max_steps): loss/d, loss/g, kimg and
the headline metric, within the terminal's width; every other logged value goes to the log, CSV and loggers."""
import shutil
import sys

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from gan_lightning.errors import check_number


def batches_for_steps(max_steps: int, n_critic: int) -> int:
    """Batches until Lightning's global_step reaches max_steps: it counts D steps and G steps (manual optimisation)."""
    batches = max_steps * n_critic // (n_critic + 1)
    while batches + batches // n_critic < max_steps:
        batches += 1
    return batches


class KimgProgressBar(TQDMProgressBar):
    """A 'train' bar counted in the module's batches, created once with its total: no empty epoch headers."""

    # Lightning's format without the rate (the ETA says as much): room for the values at 80 columns
    BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"

    def __init__(self, refresh_rate: int = 1, process_position: int = 0,
                 keys: list[str] | tuple[str, ...] = ("loss/d", "loss/g"), **kwargs) -> None:
        check_number("callbacks.progress.refresh_rate", refresh_rate, 0, integer=True)  # 0: no bar
        super().__init__(refresh_rate, process_position, **kwargs)
        self.keys = list(keys)  # logged keys shown on the bar, e.g. [loss/d, loss/g, schedule/resolution]

    def total(self, trainer: L.Trainer, pl_module: L.LightningModule) -> int | None:
        """The run length in batches: the first of the module's run length and trainer.max_steps."""
        batch_nimg = pl_module.batch_nimg or getattr(trainer.datamodule, "batch_size", 0) * trainer.world_size
        limits = [pl_module.total_batches(batch_nimg)]
        if trainer.max_steps is not None and trainer.max_steps >= 0:
            limits.append(batches_for_steps(trainer.max_steps, pl_module.n_critic))
        limits = [limit for limit in limits if limit is not None]
        return min(limits) if limits else None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        terminal = sys.stdout.isatty()  # a terminal's width follows resizes; a pipe or file gets $COLUMNS (or 80)
        self.train_progress_bar = Tqdm(desc="train", total=self.total(trainer, pl_module), initial=pl_module.batches,
                                       position=2 * self.process_position, disable=self.is_disabled, leave=True,
                                       dynamic_ncols=terminal, ncols=None if terminal else shutil.get_terminal_size().columns,
                                       file=sys.stdout, smoothing=0, bar_format=self.BAR_FORMAT)

    def on_train_epoch_start(self, trainer: L.Trainer, *_) -> None:
        pass  # one endless epoch: Lightning's reset would print an empty 'Epoch 0' bar

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._should_update(pl_module.batches, self.train_progress_bar.total):
            self.show(trainer, pl_module)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.show(trainer, pl_module)  # the losses logged at the end
        self.train_progress_bar.close()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        bar = getattr(self, "_train_progress_bar", None)
        if bar is not None:
            bar.close()  # the line that says why the run stopped (preemption, an error) starts on a line of its own

    def show(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        bar = self.train_progress_bar
        bar.total = self.total(trainer, pl_module)
        bar.n = pl_module.batches
        bar.set_postfix(self.get_metrics(trainer, pl_module))  # also refreshes the bar

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict:
        """`keys` as last logged (callbacks.log every_kimg; no host sync here), the headline metric (the key a
        metrics callback picks best.ckpt by, under the name it shows it) and the current kimg."""
        logged = trainer.callback_metrics  # in the order of importance: a narrow terminal cuts the tail
        metrics = {"kimg": f"{pl_module.nimg / 1000:.4g}"}
        metrics.update({key: f"{float(logged[key]):.3g}" for key in self.keys if key in logged})
        for callback in trainer.callbacks:
            headline = getattr(callback, "headline", None)
            if callable(headline) and headline() is not None:
                name, key = headline()
                if key in logged:
                    metrics[name] = f"{float(logged[key]):.4g}"
        return metrics
