"""Hyper-parameters that follow a cosine of the images-seen clock, set before every batch, as R3GAN's training
loop sets them before every iteration (brownvc/R3GAN `training/training_loop.py`, `cosine_decay_with_warmup`):
the learning rates, Adam's beta2, the weight of named penalties (R3GAN's gamma for R1 and R2), G_ema's
half-life and a fixed ADA p. Each value is a pure function of the clock, so a resumed run gets the same values.

    callbacks.schedules.lr={base:2e-4,final:5e-5,kimg:20000}     # and beta2, gamma, ema_halflife_kimg, augment_p

A schedule is `{base, final, kimg}` with optional `warmup`, `warmup_kimg` and `hold_kimg`: `warmup` rising
linearly to `base` over `warmup_kimg`, `base` held for `hold_kimg`, then half a cosine from `base` to `final`,
which is reached at `kimg` and kept. The learning-rate schedule is a factor on every optimizer's configured rate
(value / base), so G and D keep their ratio, a lazy penalty's adjusted rate stays adjusted and
callbacks.lr_decay still multiplies.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import lightning as L

from gan_lightning.errors import ConfigError, check_number
from gan_lightning.training.callbacks.progressive import set_learning_rates


@dataclass(frozen=True)
class Cosine:
    """R3GAN's cosine_decay_with_warmup, on images seen: `base` -> `final` over `kimg` (see the module)."""

    base: float
    final: float
    kimg: float
    warmup: float = 0.0
    warmup_kimg: float = 0.0
    hold_kimg: float = 0.0

    def __call__(self, nimg: int) -> float:
        kimg = nimg / 1000
        if kimg >= self.kimg:
            return self.final
        if kimg < self.warmup_kimg:
            return self.warmup + (self.base - self.warmup) * kimg / self.warmup_kimg
        start = self.warmup_kimg + self.hold_kimg
        if kimg <= start:
            return self.base
        decay = 0.5 * (1 + math.cos(math.pi * (kimg - start) / (self.kimg - start)))
        return self.base + (1 - decay) * (self.final - self.base)


def cosine(name: str, spec: Mapping | None, low: float | None = None, high: float | None = None) -> Cosine | None:
    """A schedule from its config (None: not scheduled); bad keys or values are refused naming the key."""
    if spec is None:
        return None
    keys = {"base", "final", "kimg", "warmup", "warmup_kimg", "hold_kimg"}
    if not isinstance(spec, Mapping) or not {"base", "final", "kimg"} <= set(spec) or set(spec) - keys:
        raise ConfigError(f"callbacks.schedules.{name}={spec!r} is not supported; accepted: null, or "
                          "{base: B, final: F, kimg: K} with optional warmup, warmup_kimg, hold_kimg")
    values = {key: check_number(f"callbacks.schedules.{name}.{key}", spec[key], low, high)
              for key in ("base", "final", "warmup") if key in spec}
    for key in ("kimg", "warmup_kimg", "hold_kimg"):
        if key in spec:
            values[key] = check_number(f"callbacks.schedules.{name}.{key}", spec[key], 0)
    if values["kimg"] <= values.get("warmup_kimg", 0) + values.get("hold_kimg", 0):
        raise ConfigError(f"callbacks.schedules.{name}: kimg={values['kimg']!r} must exceed warmup_kimg + hold_kimg; "
                          "accepted: a decay that ends after its warm-up and hold")
    if name == "lr" and values["base"] <= 0:
        raise ConfigError(f"callbacks.schedules.lr.base={values['base']!r}: the rate schedule is a factor "
                          "value / base; accepted: base > 0")
    return Cosine(**values)


class Schedules(L.Callback):
    """Sets the scheduled hyper-parameters before every batch (all None: does nothing)."""

    def __init__(self, lr: Mapping | None = None, beta2: Mapping | None = None, gamma: Mapping | None = None,
                 gamma_of: list[str] | tuple[str, ...] = ("r1", "r2"), ema_halflife_kimg: Mapping | None = None,
                 augment_p: Mapping | None = None) -> None:
        self.lr = cosine("lr", lr, 0)
        self.beta2 = cosine("beta2", beta2, 0, 1)
        self.gamma = cosine("gamma", gamma, 0)
        self.gamma_of = tuple(gamma_of)
        self.ema_halflife_kimg = cosine("ema_halflife_kimg", ema_halflife_kimg, 0)
        self.augment_p = cosine("augment_p", augment_p, 0, 1)
        self.ema = None

    @property
    def active(self) -> bool:
        return any(s is not None for s in (self.lr, self.beta2, self.gamma, self.ema_halflife_kimg, self.augment_p))

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        """Refuse a schedule whose target this run does not have, naming what is missing."""
        if self.gamma is not None:
            missing = [name for name in self.gamma_of if name not in pl_module.regularizer.items]
            if missing or not self.gamma_of:
                raise ConfigError(f"callbacks.schedules.gamma sets the weight of {list(self.gamma_of)}, but the "
                                  f"regularizer is [{','.join(pl_module.regularizer.items)}]; accepted: "
                                  "callbacks.schedules.gamma_of naming penalties of the run")
        if self.beta2 is not None and (pl_module.regularizer.lazy is not None or pl_module.regularizer.generator_lazy):
            raise ConfigError("callbacks.schedules.beta2 with a lazy penalty (interval > 1) is not supported: its "
                              "adjusted betas would be overwritten; accepted: penalties with interval 1")
        if self.augment_p is not None and getattr(pl_module.augment, "adaptive", True):
            raise ConfigError("callbacks.schedules.augment_p needs augment=ada with a fixed p (augment.p=0); "
                              f"the run has {type(pl_module.augment).__name__}"
                              f"{' (adaptive)' if hasattr(pl_module.augment, 'adaptive') else ''}")
        if self.ema_halflife_kimg is not None:
            from gan_lightning.training.callbacks.ema import EMA

            self.ema = next((cb for cb in trainer.callbacks if isinstance(cb, EMA)), None)
            if self.ema is None or self.ema.decay_per_g_step is not None:
                raise ConfigError("callbacks.schedules.ema_halflife_kimg needs callbacks.ema with a half-life "
                                  "(decay_per_g_step: null)")

    def values(self, nimg: int) -> dict[str, float]:
        """The scheduled values at `nimg` images seen (the keys of the schedules that are set)."""
        names = ("lr", "beta2", "gamma", "ema_halflife_kimg", "augment_p")
        return {name: schedule(nimg) for name in names if (schedule := getattr(self, name)) is not None}

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if not self.active:
            return
        values = self.values(pl_module.nimg)
        if "lr" in values:
            set_learning_rates(trainer, "schedules", factor=values["lr"] / self.lr.base)
        if "beta2" in values:
            for optimizer in trainer.optimizers:
                for group in optimizer.param_groups:
                    group["betas"] = (group["betas"][0], values["beta2"])
        if "gamma" in values:
            for name in self.gamma_of:
                pl_module.regularizer.items[name].weight = values["gamma"]
        if "ema_halflife_kimg" in values:
            self.ema.halflife_kimg = values["ema_halflife_kimg"]
        if "augment_p" in values:
            pl_module.augment.p.fill_(values["augment_p"])
