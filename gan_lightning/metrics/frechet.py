"""FID (Heusel et al. 2017) and KID (Binkowski et al. 2018) on features of any feature network.

FID keeps torchmetrics' streaming sums (sum of features, sum of outer products, count: memory does not
grow with the number of images) and its DDP sum; it gets features computed once by the suite, through a
pass-through `feature=` module, so that FID, KID and precision/recall share one Inception pass.
KID is the unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets drawn from a
seeded generator (the same subsets on every rank and in a single process); `kid_std` is the population
std (ddof 0) of the subset values, as torch-fidelity's `metric_kid.py`.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.kid import poly_mmd

from gan_lightning.errors import ConfigError
from gan_lightning.metrics.base import Metric, Sets


class PassThrough(nn.Module):
    """Hands precomputed features [N, d] to torchmetrics unchanged (`num_features` spares a dummy forward)."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, features: Tensor) -> Tensor:
        return features


class FID(Metric):
    """Frechet distance between Gaussians fitted to real and fake features."""

    name = "fid"

    def __init__(self, feature: str = "inception") -> None:
        super().__init__(feature)
        self.state: FrechetInceptionDistance | None = None

    def update(self, x: Tensor, real: bool) -> None:
        if self.state is None:
            self.state = FrechetInceptionDistance(feature=PassThrough(x.shape[1]), sync_on_compute=True).to(x.device)
        self.state.update(x, real=real)

    def states(self) -> list:
        return [self.state] if self.state is not None else []

    def compute(self) -> dict[str, float]:
        return {"fid": float(self.state.compute())}


class KID(Metric):
    """Kernel inception distance: mean and std of the unbiased MMD^2 over `subsets` random subsets."""

    name = "kid"

    def __init__(self, feature: str = "inception", subsets: int = 100, subset_size: int = 1000,
                 degree: int = 3, seed: int = 0) -> None:
        super().__init__(feature)
        if subsets < 1 or subset_size < 2:
            raise ConfigError(f"kid: subsets={subsets!r}, subset_size={subset_size!r} are not supported; "
                              "accepted: subsets >= 1, subset_size >= 2")
        self.subsets, self.subset_size, self.degree, self.seed = subsets, subset_size, degree, seed
        self.sets = Sets()

    def update(self, x: Tensor, real: bool) -> None:
        self.sets.update(x, real)

    def compute(self) -> dict[str, float]:
        real, fake = (f.double() for f in self.sets.compute())
        values = kid_subsets(real, fake, self.subsets, self.subset_size, self.degree, self.seed,
                             indices=self.indices(len(real), len(fake)))
        return {"kid": float(values.mean()), "kid_std": float(values.std(correction=0))}

    def indices(self, n_real: int, n_fake: int) -> list[tuple[Tensor, Tensor]]:
        """The rows of each subset pair (a subclass may inject others: the parity test gives torch-fidelity's)."""
        return subset_indices(n_real, n_fake, self.subsets, self.subset_size, self.seed)

    def settings(self) -> dict[str, Any]:
        return {"subsets": self.subsets, "subset_size": self.subset_size, "kernel": f"(x.y / d + 1)^{self.degree}"}


def subset_indices(n_real: int, n_fake: int, subsets: int, subset_size: int, seed: int = 0) -> list[tuple[Tensor, Tensor]]:
    """`subsets` pairs (real rows, fake rows) of `min(subset_size, n_real, n_fake)` rows each, from `seed`."""
    m = min(subset_size, n_real, n_fake)
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randperm(n_real, generator=generator)[:m], torch.randperm(n_fake, generator=generator)[:m])
            for _ in range(subsets)]


def kid_subsets(real: Tensor, fake: Tensor, subsets: int, subset_size: int, degree: int = 3, seed: int = 0,
                indices: list[tuple[Tensor, Tensor]] | None = None) -> Tensor:
    """Unbiased MMD^2 of `subsets` pairs of random subsets of `min(subset_size, n_real, n_fake)` rows
    (or of the given `indices`)."""
    if indices is None:
        indices = subset_indices(len(real), len(fake), subsets, subset_size, seed)
    return torch.stack([poly_mmd(real[i.to(real.device)], fake[j.to(fake.device)], degree=degree) for i, j in indices])
