"""The metric interface, and the torchmetrics states that give every metric its DDP synchronisation."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric as StateMetric
from torchmetrics.utilities.data import dim_zero_cat


class Metric:
    """A GAN metric: fed fake (and real) inputs by update(), returns named floats from compute().

    `feature` names a feature network of the suite (its [N, d] outputs are what update() gets), or is None
    for metrics fed the uint8 images [N, C, H, W] themselves. Real inputs come from the dataset, or, for
    feature metrics, from the on-disk cache of real features. State lives in torchmetrics objects, which
    sum or concatenate it over ranks in compute(): a metric is written as if for one process.
    """

    name: str = "metric"
    needs_real: bool = True
    inputs: str = "images"  # "images": uint8 [N, C, H, W]; "points": G's raw output, for non-image data (2-D toys)
    unavailable: str | None = None  # a one-line reason when this metric cannot run here

    def __init__(self, feature: str | None = None) -> None:
        self.feature = feature

    def states(self) -> list[StateMetric]:
        """The torchmetrics objects holding this metric's state."""
        return [value for value in vars(self).values() if isinstance(value, StateMetric)]

    def to(self, device: torch.device | str) -> "Metric":
        for state in self.states():
            state.to(device)
        return self

    def reset(self) -> None:
        for state in self.states():
            state.reset()

    def update(self, x: Tensor, real: bool) -> None:
        """Add a batch: features [N, d] (when `feature` is set) or uint8 images [N, C, H, W]."""
        raise NotImplementedError

    def update_at(self, x: Tensor, real: bool, start: int) -> None:
        """update() for the images start..start + len(x) of their set, as the suite feeds image metrics: a
        metric that draws per-image randomness seeds it by position, so that the values do not depend on
        how the images are split over ranks."""
        self.update(x, real)

    def compute(self) -> dict[str, float]:
        """Named values, e.g. {"fid": 12.3}; keys become `metrics/<key>` in the logs."""
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        """This metric's own parameters, recorded in provenance."""
        return {}


class Sets(StateMetric):
    """Real and fake rows kept as they come (concatenated over ranks, in rank order) for set metrics."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__(sync_on_compute=True)
        self.add_state("real", default=[], dist_reduce_fx="cat")
        self.add_state("fake", default=[], dist_reduce_fx="cat")

    def update(self, x: Tensor, real: bool) -> None:
        (self.real if real else self.fake).append(x.detach())

    def compute(self) -> tuple[Tensor, Tensor]:
        """(real [N, ...], fake [M, ...]) over all ranks."""
        return tuple(dim_zero_cat(rows) if len(rows) else torch.zeros(0) for rows in (self.real, self.fake))


class Sums(StateMetric):
    """Sums and counts of per-item values, for real and for fake inputs, summed over ranks."""

    full_state_update = False

    def __init__(self) -> None:
        super().__init__(sync_on_compute=True)
        for kind in ("real", "fake"):
            self.add_state(f"{kind}_sum", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state(f"{kind}_count", default=torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def update(self, values: Tensor, real: bool) -> None:
        kind = "real" if real else "fake"
        setattr(self, f"{kind}_sum", getattr(self, f"{kind}_sum") + values.double().sum())
        setattr(self, f"{kind}_count", getattr(self, f"{kind}_count") + values.numel())

    def compute(self) -> tuple[float, float]:
        """(mean over real items, mean over fake items); NaN where there were none."""
        return tuple(float(getattr(self, f"{k}_sum") / getattr(self, f"{k}_count")) if getattr(self, f"{k}_count")
                     else float("nan") for k in ("real", "fake"))
