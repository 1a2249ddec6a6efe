"""Exponential moving average of the generator's weights, with a half-life in images.

Karras et al. (2018, 2022): G_ema <- beta * G_ema + (1 - beta) * G, with beta = 0.5 ** (batch_nimg /
halflife_nimg), so the averaging horizon does not depend on the batch size. G's buffers are copied.
G_ema lives on the module, so it is checkpointed and moved with it.
BigGAN's form (BigGAN-PyTorch `utils.ema`, updated after every G step of `train_fns.py`) is a fixed decay per
G step instead (`decay_per_g_step`), and both forms can start late: until `start_g_steps` G steps are done,
G_ema is a copy of G (BigGAN-PyTorch `ema_start`). Both are functions of the module's batch clock, so a
resumed run averages exactly as an uninterrupted one.

Batch-norm statistics copied from G do not belong to G_ema's averaged weights, so before G_ema is sampled
they are recomputed (BigGAN's "standing statistics", Brock et al. 2019, sec. 3.1 / appendix C):
`standing_statistics` runs G_ema in train mode over fresh batches of z and keeps the cumulative average.
"""
from collections.abc import Callable

import lightning as L
import torch
from torch import Tensor, nn

from gan_lightning.errors import check_number


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, beta: float) -> None:
    """ema <- beta * ema + (1 - beta) * model for parameters; buffers are copied."""
    ema_params = [p for p in ema.parameters()]
    params = [p.detach() for p in model.parameters()]
    torch._foreach_lerp_(ema_params, params, 1.0 - beta)
    for b_ema, b in zip(ema.buffers(), model.buffers()):
        b_ema.copy_(b)


def batch_norms(net: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The batch-norm layers of `net` that track running statistics."""
    return [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]


@torch.no_grad()
def standing_statistics(net: nn.Module, sample_inputs: Callable[[int], tuple[Tensor, Tensor | None]],
                        batches: int = 16, batch_size: int = 64) -> None:
    """Batch-norm running statistics of `net` recomputed as the average over `batches` batches of its own
    outputs' statistics (train-mode forwards with momentum None: a cumulative average); `net` ends in eval."""
    norms = batch_norms(net)
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    for _ in range(batches):
        net(*sample_inputs(batch_size))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    net.eval()


def ema_beta(batch_nimg: int, halflife_kimg: float, nimg: int = 0, rampup: float | None = None) -> float:
    """The per-batch decay for a half-life in kimg, optionally ramped up to rampup * nimg early in training."""
    halflife_nimg = halflife_kimg * 1000
    if rampup is not None:
        halflife_nimg = min(halflife_nimg, nimg * rampup)
    if halflife_nimg <= 0:
        return 0.0
    return 0.5 ** (batch_nimg / halflife_nimg)


class EMA(L.Callback):
    """Updates `pl_module.G_ema` from `pl_module.generator` after every batch (after every G step with
    `decay_per_g_step`, which then replaces the half-life)."""

    def __init__(self, halflife_kimg: float = 10.0, rampup: float | None = 0.05,
                 decay_per_g_step: float | None = None, start_g_steps: int = 0) -> None:
        self.halflife_kimg = check_number("callbacks.ema.halflife_kimg", halflife_kimg, 0)
        self.rampup = check_number("callbacks.ema.rampup", rampup, 0, above=True, nullable=True)
        self.decay_per_g_step = check_number("callbacks.ema.decay_per_g_step", decay_per_g_step, 0, 1, nullable=True)
        self.start_g_steps = check_number("callbacks.ema.start_g_steps", start_g_steps, 0, integer=True)

    def beta(self, pl_module: L.LightningModule) -> float | None:
        """The decay for the batch just done (None: no update, a batch without a G step in per-G-step mode)."""
        if self.decay_per_g_step is None:
            beta = ema_beta(pl_module.batch_nimg, self.halflife_kimg, pl_module.nimg, self.rampup)
        elif pl_module.batches % pl_module.n_critic == 0:  # this batch ended with a G step
            beta = self.decay_per_g_step
        else:
            return None
        return 0.0 if pl_module.g_steps < self.start_g_steps else beta

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx) -> None:
        beta = self.beta(pl_module)
        if beta is None:
            return
        ema_update(pl_module.G_ema, pl_module.generator, beta)
        pl_module.ema_statistics_batches = 0  # batch-norm statistics are recomputed before G_ema is sampled
