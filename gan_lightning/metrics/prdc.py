"""Precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020) in feature space.

Each set's manifold is the union of balls around its points with radius = distance to the k-th nearest
neighbour in the same set. Precision: share of fakes inside the real manifold; recall: share of reals
inside the fake manifold; density: mean number of real balls holding a fake, over k; coverage: share of
real balls that hold at least one fake. Distances are computed in row blocks, so memory is O(block * N).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gan_lightning.errors import ConfigError
from gan_lightning.metrics.base import Metric, Sets


def kth_neighbour_radii(x: Tensor, k: int, block: int = 1024) -> Tensor:
    """Distance from each row of x [N, d] to its k-th nearest other row: [N]."""
    radii = []
    for start in range(0, len(x), block):
        d = torch.cdist(x[start : start + block], x)  # [B, N], the point itself at distance 0
        radii.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii)


def inside_counts(points: Tensor, centers: Tensor, radii: Tensor, block: int = 1024) -> Tensor:
    """For each point [M, d], how many balls (centers [N, d], radii [N]) contain it: [M]."""
    counts = []
    for start in range(0, len(points), block):
        d = torch.cdist(points[start : start + block], centers)  # [B, N]
        counts.append((d <= radii[None]).sum(dim=1))
    return torch.cat(counts)


def prdc(real: Tensor, fake: Tensor, k: int = 3) -> dict[str, float]:
    """Precision, recall, density and coverage of fake [M, d] against real [N, d] features."""
    real_radii = kth_neighbour_radii(real, k)
    fake_radii = kth_neighbour_radii(fake, k)
    in_real = inside_counts(fake, real, real_radii)  # real balls around each fake
    nearest_fake = torch.cat([torch.cdist(real[i : i + 1024], fake).min(dim=1).values for i in range(0, len(real), 1024)])
    return {
        "precision": float((in_real > 0).double().mean()),
        "recall": float((inside_counts(real, fake, fake_radii) > 0).double().mean()),
        "density": float(in_real.double().sum() / (k * len(fake))),
        "coverage": float((nearest_fake < real_radii).double().mean()),
    }


class PrecisionRecall(Metric):
    """k-NN precision/recall plus density/coverage of fake against real features."""

    name = "pr"

    def __init__(self, feature: str = "inception", k: int = 3) -> None:
        super().__init__(feature)
        if not isinstance(k, int) or k < 1:
            raise ConfigError(f"pr: k={k!r} is not supported; accepted: an integer >= 1")
        self.k = k
        self.sets = Sets()

    def update(self, x: Tensor, real: bool) -> None:
        self.sets.update(x, real)

    def compute(self) -> dict[str, float]:
        real, fake = (f.double() for f in self.sets.compute())
        if min(len(real), len(fake)) <= self.k:
            raise ConfigError(f"pr: k={self.k} needs more than {self.k} real and fake images; "
                              f"got {len(real)} and {len(fake)}")
        return prdc(real, fake, self.k)

    def settings(self) -> dict[str, Any]:
        return {"k": self.k, "distance": "euclidean"}
