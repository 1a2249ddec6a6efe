"""Penalties that combine: `regularizer=[r1,r2]` turns on several regularizers, each with its own weight and
lazy interval, and PGGAN's drift as a penalty of its own.

The `regularizer` config node holds one entry per chosen penalty (`regularizer.r1.weight`, `regularizer.r2.
interval`); `Penalties` is what the training step sees, whatever was chosen: the penalties due at a D step,
split into those that join the D loss and the lazy ones (interval > 1) that are one extra D step together,
the G-side penalties, and the hooks after D's step. A checkpoint of one regularizer (a config with
`regularizer._target_`) becomes a collection of one.
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError
from gan_lightning.objectives.regularizers import Regularizer

# penalties that are alternatives, not complements: two pulls of D's gradient norm towards a target, or a
# norm penalty with weight clipping (Gulrajani et al. 2017 replace clipping with the penalty)
EXCLUSIVE = ({"gp", "dragan"}, {"clip", "gp"}, {"clip", "dragan"})


class Drift(Regularizer):
    """PGGAN's drift term (Karras et al. 2018, sec. A.1): weight * E[D(x_real)^2], which keeps a WGAN critic's
    logits near 0; the D step hands over its real logits, so it costs no extra pass of D."""

    name = "drift"

    def __init__(self, weight: float = 0.001, interval: int = 1) -> None:
        super().__init__(weight, interval)

    def forward(self, discriminator: nn.Module, real: Tensor, fake: Tensor, c: Tensor | None = None,
                real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:  # a lazy step: D has changed since the loss's pass
            real_logits = discriminator(real, c)
        return real_logits.square().mean() * (self.weight * self.interval)


class Penalties(nn.Module):
    """The chosen regularizers, by config key; the interface the training step uses."""

    def __init__(self, regularizers: Regularizer | Mapping[str, Regularizer | None] | None = None) -> None:
        super().__init__()
        if regularizers is None:
            regularizers = {}
        elif isinstance(regularizers, Regularizer):
            regularizers = {regularizers.name: regularizers}
        for key, reg in regularizers.items():
            if reg is not None and not isinstance(reg, Regularizer):
                raise ConfigError(f"regularizer.{key} is {type(reg).__name__}, not a regularizer; accepted: the "
                                  "options of conf/regularizer, e.g. regularizer=[r1,r2]")
        self.items = nn.ModuleDict({key: reg for key, reg in regularizers.items() if reg is not None})
        names = [reg.name for reg in self.items.values()]
        for pair in EXCLUSIVE:
            if pair <= set(names):
                raise ConfigError(f"regularizer=[{','.join(self.items)}] is not supported: {' and '.join(sorted(pair))} "
                                  "are alternatives; accepted: one of them")
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ConfigError(f"regularizer=[{','.join(self.items)}] has {twice[0]} twice; accepted: each "
                              "penalty once (its weight sets its strength)")
        intervals = sorted({reg.interval for reg in self.items.values() if reg.lazy})
        if len(intervals) > 1:
            raise ConfigError(f"regularizer intervals {intervals} are not supported together: D's optimizer is "
                              "adjusted for one lazy interval; accepted: the same interval for every lazy penalty")
        self.lazy = next((reg for reg in self.items.values() if reg.lazy), None)  # the one that adjusts D's Adam

    @property
    def double_backward(self) -> bool:
        """Whether a penalty differentiates D's input gradient (torch.compile cannot run it)."""
        return any(reg.double_backward for reg in self.items.values())

    @property
    def scaler(self) -> torch.amp.GradScaler | None:
        return next((reg.scaler for reg in self.items.values()), None)

    @scaler.setter
    def scaler(self, scaler: torch.amp.GradScaler | None) -> None:
        for reg in self.items.values():
            reg.scaler = scaler

    def __repr__(self) -> str:
        return f"Penalties({', '.join(self.items) or 'none'})"

    def due(self, d_step: int) -> tuple[list[Regularizer], list[Regularizer]]:
        """The penalties due at this D step (0-based): (those that join the D loss, the lazy ones)."""
        due = [reg for reg in self.items.values() if reg.is_due(d_step)]
        return [reg for reg in due if not reg.lazy], [reg for reg in due if reg.lazy]

    def adjust_optimizer(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        return self.lazy.adjust_optimizer(optimizer) if self.lazy is not None else optimizer

    def after_d_step(self, discriminator: nn.Module) -> None:
        for reg in self.items.values():
            reg.after_d_step(discriminator)

    def generator_penalties(self, generator: nn.Module, real: Tensor, c: Tensor | None) -> dict[str, Tensor]:
        """The weighted G-side penalties (BigGAN's ortho, SinGAN's reconstruction) by log key `reg/<name>`."""
        penalties = {f"reg/{reg.generator_name}": reg.generator_penalty(generator, real, c)
                     for reg in self.items.values()}
        return {key: penalty for key, penalty in penalties.items() if penalty is not None}
