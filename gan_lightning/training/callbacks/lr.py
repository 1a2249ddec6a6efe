"""Learning rates held, then decayed linearly to a fraction of their value over the end of the run.

A ramp-down of both optimizers' learning rates over the last part of training (as in Karras et al. 2018,
appendix A.1, and most toy-mixture recipes) lowers the noise of the last updates: the samples settle on
the modes instead of jittering between them. The factor is a pure function of the run's progress on the
images-seen clock, so a resumed run gets the same learning rates. Each parameter group keeps the rate it
was built with as `base_lr` (saved with the optimizer state), so the decay never compounds. With the
schedules that set rates of their own it multiplies: PGGAN's per-stage rates (arch.schedule.lr) and
SinGAN's per-scale decay times this factor (progressive.set_learning_rates).
"""
import lightning as L

from gan_lightning.errors import check_number
from gan_lightning.training.callbacks.progressive import set_learning_rates
from gan_lightning.training.schedule import run_progress


def decay_factor(progress: float, start: float, final: float) -> float:
    """1 until `progress` reaches `start`, then linear to `final` at progress 1."""
    if progress <= start or start >= 1.0:
        return 1.0
    return 1.0 + (final - 1.0) * min(1.0, (progress - start) / (1.0 - start))


class LRDecay(L.Callback):
    """Both optimizers' learning rates times `decay_factor(progress, start, final)` before every batch."""

    def __init__(self, start: float = 1.0, final: float = 0.0) -> None:
        check_number("callbacks.lr_decay.start", start, 0, 1)  # the share of the run before the decay; 1: none
        check_number("callbacks.lr_decay.final", final, 0, 1)  # the factor reached at the end of the run
        self.start, self.final = float(start), float(final)

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, batch, batch_idx: int) -> None:
        if self.start >= 1.0:
            return
        progress = run_progress(module.nimg, module.g_steps, module.total_kimg, module.total_g_steps)
        set_learning_rates(trainer, "lr_decay", factor=decay_factor(progress, self.start, self.final))
