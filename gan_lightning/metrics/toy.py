"""Mode statistics of 2-D Gaussian mixtures, the VEEGAN / PacGAN protocol (Srivastava et al. 2017, sec. 5.1;
Lin et al. 2018, sec. 5).

Each generated point is assigned to its nearest mode. It is "high quality" when it lies within
`threshold_std` (3) standard deviations of that mode. A mode is "captured" when at least `min_count` (20 of
2,500) high-quality points land on it. The protocol's KL divergence, `kl_high_quality`, is KL(p || uniform)
of the histogram of high-quality points over the modes: 0 when they are spread evenly, log K when all sit on
one mode (also the value when there are none).

`kl` counts every point: KL(p || q) of the histogram over the K modes plus one off-mode bin (the points that
are not high quality), where q is the data's own: a 2-D Gaussian leaves exp(-t^2/2) of its mass beyond t std
(1.1% at 3 std) and the rest is spread evenly over the modes. Real points score about 0, an even cover of
every mode with no point off its mode -log(1 - 1.1%) = 0.011, every point on one mode log(K) + 0.011, and no
point on any mode log(1 / 1.1%) = 4.5, the worst. The protocol's KL ignores the points off every mode, so a G
whose cloud puts a few points evenly near each mode and 99% elsewhere scored a low KL with 0 modes captured,
and sweeps that minimise `metrics/kl` (hparams_search=toy_optuna, experiment=landscape_toy) picked such runs;
`kl` before this change (2026-12-03) is `kl_high_quality` today.
"""
from __future__ import annotations

from typing import Any

from torch import Tensor

from gan_lightning.data.toy import (  # the data's own mixtures and their modes
    KINDS,
    mode_statistics,
)
from gan_lightning.errors import check_choice
from gan_lightning.metrics.base import Metric, Sets


class ModeCoverage(Metric):
    """`modes`, `high_quality`, `kl` and `kl_high_quality` (module docstring) of G's points on the mixture
    `kind` (ring, grid).

    Fed G's raw output (`inputs = "points"`), not uint8 images: quantising to 256 levels would move points by
    up to one standard deviation of the ring's modes. Use 2,500 samples (`metrics.n_samples`) for the protocol.
    """

    name = "modes"
    needs_real = False
    inputs = "points"

    def __init__(self, kind: str = "ring", threshold_std: float = 3.0, min_count: int = 20) -> None:
        super().__init__(feature=None)

        check_choice("metrics.list.modes.kind", kind, tuple(KINDS))
        centres, std, scale = KINDS[kind]
        self.kind, self.modes, self.std = kind, centres / scale, std / scale
        self.threshold_std, self.min_count = threshold_std, min_count
        self.points = Sets()

    def update(self, x: Tensor, real: bool) -> None:
        self.points.update(x.reshape(len(x), -1).float(), real)

    def compute(self) -> dict[str, float]:
        fake = self.points.compute()[1]
        return mode_statistics(fake, self.modes, self.std, self.threshold_std, self.min_count)

    def settings(self) -> dict[str, Any]:
        return {"mixture": self.kind, "modes": len(self.modes), "high_quality": f"within {self.threshold_std:g} std",
                "captured": f">= {self.min_count} high-quality points"}
