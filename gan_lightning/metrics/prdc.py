"""Precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020) in feature space.

Each set's manifold is the union of balls around its points with radius = distance to the k-th nearest
neighbour in the same set. Precision: share of fakes inside the real manifold; recall: share of reals
inside the fake manifold (both with k = 3, as Kynkaanniemi et al.); density: mean number of real balls
holding a fake, over k; coverage: share of real balls that hold at least one fake (both with k = 5, as
Naeem et al. and clovaai/generative-evaluation-prdc). "Inside" is a strict `<`, as in clovaai's `prdc`.
Distances are computed in row blocks, so memory is O(block * N).
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
        counts.append((d < radii[None]).sum(dim=1))
    return torch.cat(counts)


def prdc(real: Tensor, fake: Tensor, k: int = 3, density_k: int = 5) -> dict[str, float]:
    """Precision and recall (k neighbours), density and coverage (density_k neighbours) of fake [M, d]
    against real [N, d] features."""
    real_radii = kth_neighbour_radii(real, k)
    fake_radii = kth_neighbour_radii(fake, k)
    dense_radii = real_radii if density_k == k else kth_neighbour_radii(real, density_k)
    in_dense = inside_counts(fake, real, dense_radii)  # real balls (density_k) around each fake
    nearest_fake = torch.cat([torch.cdist(real[i : i + 1024], fake).min(dim=1).values for i in range(0, len(real), 1024)])
    return {
        "precision": float((inside_counts(fake, real, real_radii) > 0).double().mean()),
        "recall": float((inside_counts(real, fake, fake_radii) > 0).double().mean()),
        "density": float(in_dense.double().sum() / (density_k * len(fake))),
        "coverage": float((nearest_fake < dense_radii).double().mean()),
    }


class PrecisionRecall(Metric):
    """k-NN precision/recall (k) plus density/coverage (density_k) of fake against real features."""

    name = "pr"

    def __init__(self, feature: str = "inception", k: int = 3, density_k: int = 5) -> None:
        super().__init__(feature)
        for key, value in (("k", k), ("density_k", density_k)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"metrics.list.pr.{key}={value!r} is not supported; accepted: an integer >= 1")
        self.k, self.density_k = k, density_k
        self.sets = Sets()

    def update(self, x: Tensor, real: bool) -> None:
        self.sets.update(x, real)

    def compute(self) -> dict[str, float]:
        real, fake = (f.double() for f in self.sets.compute())
        k = max(self.k, self.density_k)
        if min(len(real), len(fake)) <= k:
            raise ConfigError(f"metrics.list.pr: k={self.k}, density_k={self.density_k} need more than {k} real "
                              f"and fake images; got {len(real)} and {len(fake)}")
        return prdc(real, fake, self.k, self.density_k)

    def settings(self) -> dict[str, Any]:
        return {"k": self.k, "density_k": self.density_k, "distance": "euclidean", "inside": "d < radius"}
