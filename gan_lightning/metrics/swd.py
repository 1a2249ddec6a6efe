"""Multi-scale sliced Wasserstein distance (Karras et al. 2018, PGGAN, section 5 and appendix D).

Each image becomes a Laplacian pyramid from its resolution down to 16x16 (5-tap binomial filter,
mirrored borders); from every level, 7x7 neighbourhoods (all channels) at 128 random positions per image
are taken as descriptors (laid out channel, column, row, as PGGAN's `metrics/sliced_wasserstein.py`),
normalised per channel over each set, and the two sets are compared by the sliced Wasserstein distance:
the mean absolute difference of the sorted projections on random unit directions (4 repeats of 128).
Values are reported x 10^3 per level (`swd/<res>`) and averaged (`swd`), as in PGGAN's tables.
The positions of image i of a set are drawn from a generator seeded by (seed, level, i), so the value
does not depend on how the images are split into chunks or over ranks; the i-th real and fake images share
positions (independent images: no bias; identical sets: exactly 0).
`positions()` and `directions_at()` are the two draws; a subclass may replace them (the parity test
injects PGGAN's own draws).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gan_lightning.metrics.base import Metric, Sets

BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0])


def _blur(x: Tensor, gain: float = 1.0) -> Tensor:
    """Depthwise 5x5 binomial filter with mirrored borders; x float [N, C, H, W]."""
    kernel = torch.outer(BINOMIAL, BINOMIAL).to(x) * (gain / 256)
    c = x.shape[1]
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), kernel.expand(c, 1, 5, 5), groups=c)


def laplacian_pyramid(x: Tensor, levels: int) -> list[Tensor]:
    """[band at full res, band at res/2, ..., gaussian at res/2^(levels-1)] of float [N, C, H, W]."""
    pyramid = []
    for _ in range(levels - 1):
        small = _blur(x)[..., ::2, ::2]
        up = torch.zeros_like(x)
        up[..., ::2, ::2] = small  # zeros between, then the filter x 4 interpolates
        pyramid.append(x - _blur(up, gain=4.0))
        x = small
    pyramid.append(x)
    return pyramid


def pyramid_levels(resolution: int, min_resolution: int = 16) -> int:
    """How many levels from `resolution` halve down to `min_resolution` (1 when already at or below it)."""
    levels = 1
    while resolution // 2 >= min_resolution:
        resolution //= 2
        levels += 1
    return levels


def random_directions(dim: int, repeats: int = 4, directions: int = 128, seed: int = 0) -> list[Tensor]:
    """`repeats` sets of `directions` random unit vectors, each [dim, directions]."""
    generator = torch.Generator().manual_seed(seed)
    dirs = [torch.randn(dim, directions, generator=generator) for _ in range(repeats)]
    return [d / d.norm(dim=0, keepdim=True) for d in dirs]


def sliced_wasserstein(a: Tensor, b: Tensor, repeats: int = 4, directions: int = 128, seed: int = 0,
                       dirs: list[Tensor] | None = None) -> Tensor:
    """Mean |sorted(a @ d) - sorted(b @ d)| over unit directions d (`dirs`, else drawn from `seed`);
    a, b [N, D] with the same N."""
    dirs = random_directions(a.shape[1], repeats, directions, seed) if dirs is None else dirs
    results = []
    for d in dirs:
        d = d.to(a)
        pa, _ = torch.sort(a @ d, dim=0)
        pb, _ = torch.sort(b @ d, dim=0)
        results.append((pa - pb).abs().mean())
    return torch.stack(results).mean()


def descriptors(level: Tensor, top: Tensor, left: Tensor, k: int) -> Tensor:
    """The k x k neighbourhoods of level [N, C, H, W] at corners top, left [N, P] (per image), flattened in
    PGGAN's order (channel, column, row): [N * P, C * k * k]."""
    patches = level.unfold(2, k, 1).unfold(3, k, 1)  # [N, C, H-k+1, W-k+1, k (rows), k (columns)]
    n = torch.arange(len(level), device=level.device)[:, None]
    desc = patches[n, :, top.to(level.device), left.to(level.device)]  # [N, P, C, k, k]
    return desc.transpose(-1, -2).reshape(-1, level.shape[1] * k * k)


def normalize_descriptors(desc: Tensor, channels: int) -> Tensor:
    """Zero mean and unit std per image channel over the whole set; desc [N, C * k * k]."""
    x = desc.reshape(desc.shape[0], channels, -1)
    mean = x.mean(dim=(0, 2), keepdim=True)
    std = x.std(dim=(0, 2), keepdim=True, unbiased=False).clamp_min(1e-8)
    return ((x - mean) / std).reshape(desc.shape)


class SWD(Metric):
    """PGGAN's sliced Wasserstein distance between 7x7 Laplacian-pyramid patches of real and fake images."""

    name = "swd"
    dtype = torch.float32  # of the pyramid, descriptors and projections, as PGGAN's numpy code

    def __init__(self, nhood_size: int = 7, nhoods_per_image: int = 128, min_resolution: int = 16,
                 repeats: int = 4, directions: int = 128, seed: int = 0) -> None:
        super().__init__(feature=None)
        self.nhood_size, self.nhoods_per_image = nhood_size, nhoods_per_image
        self.min_resolution, self.repeats, self.directions, self.seed = min_resolution, repeats, directions, seed
        self.levels: list[Sets] = []
        self.resolutions: list[int] = []
        self.seen = {True: 0, False: 0}  # images fed through update() without a position, per set

    def states(self) -> list:
        return self.levels

    def reset(self) -> None:
        super().reset()
        self.seen = {True: 0, False: 0}

    def positions(self, level: int, shape: tuple[int, int], count: int, real: bool, start: int) -> tuple[Tensor, Tensor]:
        """Top-left corners [count, nhoods_per_image] of the neighbourhoods of images start..start+count
        at one level: random per image, each image's from a seed of its own (its index in the set)."""
        top, left = [], []
        for index in range(start, start + count):
            generator = torch.Generator().manual_seed(((self.seed * 1009 + level) * 1_000_003 + index) % (2**63 - 1))
            top.append(torch.randint(0, shape[0] - self.nhood_size + 1, (self.nhoods_per_image,), generator=generator))
            left.append(torch.randint(0, shape[1] - self.nhood_size + 1, (self.nhoods_per_image,), generator=generator))
        return torch.stack(top), torch.stack(left)

    def directions_at(self, level: int, dim: int) -> list[Tensor]:
        """The random unit directions of one level: `repeats` of [dim, directions]."""
        return random_directions(dim, self.repeats, self.directions, self.seed + level)

    def update(self, x: Tensor, real: bool) -> None:
        self.update_at(x, real, self.seen[real])

    def update_at(self, x: Tensor, real: bool, start: int) -> None:
        pyramid = laplacian_pyramid(x.to(self.dtype), pyramid_levels(x.shape[-1], self.min_resolution))
        if not self.levels:
            self.resolutions = [level.shape[-1] for level in pyramid]
            self.levels = [Sets().to(x.device) for _ in pyramid]
        for i, level in enumerate(pyramid):
            top, left = self.positions(i, tuple(level.shape[-2:]), len(x), real, start)
            self.levels[i].update(descriptors(level, top, left, self.nhood_size), real)
        self.seen[real] = max(self.seen[real], start + len(x))

    def compute(self) -> dict[str, float]:
        values = {}
        for i, (res, state) in enumerate(zip(self.resolutions, self.levels)):
            real, fake = state.compute()
            n = min(len(real), len(fake))  # sorting needs equal counts: a seeded subset of the larger set
            generator = torch.Generator().manual_seed(self.seed)
            real, fake = (d if len(d) == n else d[torch.randperm(len(d), generator=generator)[:n].to(d.device)]
                          for d in (real, fake))
            channels = real.shape[1] // self.nhood_size**2
            a, b = (normalize_descriptors(d.to(self.dtype), channels) for d in (real, fake))
            values[f"swd/{res}"] = 1e3 * float(sliced_wasserstein(a, b, dirs=self.directions_at(i, a.shape[1])))
        values["swd"] = sum(values.values()) / len(values)
        return values

    def settings(self) -> dict[str, Any]:
        return {"pyramid": f"Laplacian down to {self.min_resolution}x{self.min_resolution}",
                "levels": self.resolutions, "nhood": f"{self.nhood_size}x{self.nhood_size}",
                "nhoods_per_image": f"{self.nhoods_per_image} at random positions per image and level (seed {self.seed})",
                "directions": f"{self.repeats} x {self.directions}", "scale": "x 1e3"}
