"""Device-side speed-ups, set up before training: channels_last nets, fused Adam, small data kept on the GPU as
uint8, optionally torch.compile of G and D. `None` means "on when training on a CUDA device"; on a CPU nothing
changes unless asked for. Mixed precision is the trainer's (`trainer=gpu`: bf16-mixed where the GPU has it).
"""
import logging
from functools import partial

import lightning as L
import torch
from lightning.pytorch.plugins.precision import MixedPrecision, Precision
from lightning.pytorch.strategies import Strategy
from lightning.pytorch.utilities.model_helpers import is_overridden

from gan_lightning.errors import ConfigError

log = logging.getLogger(__name__)

FUSED = (torch.optim.Adam, torch.optim.AdamW)  # optimizers with a fused kernel that also unscales fp16 grads


class Speed(L.Callback):
    """Applies the speed-ups to the module and the datamodule in `setup` (before the optimizers are made)."""

    def __init__(self, channels_last: bool | None = None, fused_optimizer: bool | None = None,
                 data_on_device_mb: float | None = 2048, compile: bool = False) -> None:
        for key, value in (("channels_last", channels_last), ("fused_optimizer", fused_optimizer)):
            if value not in (None, True, False):
                raise ConfigError(f"callbacks.speed.{key}={value!r} is not supported; accepted: null, true, false")
        if data_on_device_mb is not None and (not isinstance(data_on_device_mb, (int, float)) or data_on_device_mb < 0):
            raise ConfigError(f"callbacks.speed.data_on_device_mb={data_on_device_mb!r} is not supported; "
                              "accepted: a number of MiB >= 0, or null (never)")
        self.channels_last, self.fused_optimizer = channels_last, fused_optimizer
        self.data_on_device_mb, self.compile = data_on_device_mb, compile

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        device = trainer.strategy.root_device
        cuda = device.type == "cuda"
        nets = [pl_module.generator, pl_module.discriminator, pl_module.G_ema]
        if self.channels_last if self.channels_last is not None else cuda:
            for net in nets:  # 4-D weights NHWC: tensor cores take conv inputs in this layout
                net.to(memory_format=torch.channels_last)
        if self.fused_optimizer if self.fused_optimizer is not None else cuda:
            pl_module.g_optimizer, pl_module.d_optimizer = map(fused, (pl_module.g_optimizer, pl_module.d_optimizer))
        datamodule = trainer.datamodule
        if cuda and self.data_on_device_mb is not None and hasattr(datamodule, "keep_on"):
            images = datamodule.data[0]
            if images.dtype == torch.uint8 and images.nbytes <= self.data_on_device_mb * 2**20:
                datamodule.keep_on(device)
        if self.compile:
            pl_module.generator.compile()
            if getattr(pl_module.regularizer, "double_backward", False):
                log.info("callbacks.speed.compile: D stays eager (torch.compile has no double backward for %s)",
                         pl_module.regularizer)
            else:
                pl_module.discriminator.compile()


def fused(factory: partial) -> partial:
    """The optimizer factory with fused=True when its class has a fused kernel and nothing else was asked for."""
    func = factory.func if isinstance(factory, partial) else factory
    keywords = factory.keywords if isinstance(factory, partial) else {}
    if func in FUSED and "fused" not in keywords and "foreach" not in keywords:
        return partial(factory, fused=True)
    return factory


BACKWARD_HOOKS = ("on_before_backward", "on_after_backward")


def plain_backward(trainer: L.Trainer) -> bool:
    """Whether Lightning's `manual_backward` would only call `loss.backward()` in this run: a strategy and a
    precision plugin that leave the backward alone (one device, no fp16 loss scaler; DDP prepares its gradient
    reduction there) and no callback or module hook on it. Lightning's path costs about 0.1 ms a call on a
    CPU in hook dispatch (bench/RESULTS.md), a tax small nets feel."""
    strategy, precision, module = trainer.strategy, trainer.precision_plugin, trainer.lightning_module
    untouched = all(getattr(type(strategy), name) is getattr(Strategy, name)
                    for name in ("backward", "pre_backward", "post_backward"))
    unscaled = type(precision).pre_backward is Precision.pre_backward or (
        type(precision).pre_backward is MixedPrecision.pre_backward and precision.scaler is None)
    unscaled = unscaled and all(getattr(type(precision), name) is getattr(Precision, name)
                                for name in ("backward", "post_backward"))
    hooked = any(is_overridden(hook, callback, parent=L.Callback)
                 for callback in trainer.callbacks for hook in BACKWARD_HOOKS)
    hooked = hooked or any(is_overridden(hook, module, parent=L.LightningModule)
                           for hook in (*BACKWARD_HOOKS, "backward"))
    return untouched and unscaled and not hooked
