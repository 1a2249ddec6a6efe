"""2-D Gaussian mixtures, the mode-collapse benchmarks: 8 modes on a ring and 25 on a grid, and the mode
statistics of points on them (the VEEGAN / PacGAN protocol; metrics/toy.py wraps them as a metric)."""

import math

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gan_lightning.data.base import InMemoryDataModule
from gan_lightning.data.sampler import check_int
from gan_lightning.errors import check_choice

# kind -> (unscaled mode centres [K, 2], std, scale that maps the points into [-1, 1])
KINDS = {
    "ring": (
        torch.tensor([[2 * math.cos(2 * math.pi * k / 8), 2 * math.sin(2 * math.pi * k / 8)] for k in range(8)]),
        0.02,
        2.5,
    ),
    "grid": (torch.cartesian_prod(torch.arange(-4.0, 5.0, 2.0), torch.arange(-4.0, 5.0, 2.0)), 0.05, 5.0),
}
PREVIEW_REAL_POINTS = 2_000


def mode_statistics(points: Tensor, modes: Tensor, std: float, threshold_std: float = 3.0,
                    min_count: int = 20) -> dict[str, float]:
    """{'modes': captured modes, 'high_quality': share of high-quality points, 'kl': KL of all points' mode
    histogram to the data's, 'kl_high_quality': the protocol's KL of the high-quality points to uniform} of
    points [N, 2] (see metrics/toy.py)."""
    points = points.detach().reshape(len(points), -1).double().cpu()  # [N, 2]
    modes = modes.double().cpu()  # [K, 2]
    distance, nearest = torch.cdist(points, modes).min(dim=1)  # [N], [N]
    good = distance <= threshold_std * std
    counts = torch.bincount(nearest[good], minlength=len(modes)).double()  # [K]
    total = counts.sum()
    if total > 0:
        p = counts[counts > 0] / total
        kl_high_quality = float((p * (p * len(modes)).log()).sum())
    else:
        kl_high_quality = math.log(len(modes))
    # every point: K mode bins and one off-mode bin, against the data's own histogram, where a 2-D Gaussian
    # leaves exp(-t^2 / 2) of its mass beyond t std (1.1% at 3 std) and the rest is spread evenly over the modes
    off = math.exp(-threshold_std**2 / 2)
    p = torch.cat([counts, (~good).sum().double()[None]]) / max(len(points), 1)  # [K + 1]
    q = torch.cat([torch.full((len(modes),), (1 - off) / len(modes), dtype=p.dtype), torch.tensor([off])])
    kl = float((p[p > 0] * (p[p > 0] / q[p > 0]).log()).sum()) if len(points) else math.log(1 / off)
    return {
        "modes": float((counts >= min_count).sum()),
        "high_quality": float(good.double().mean()) if len(points) else 0.0,
        "kl": kl,
        "kl_high_quality": kl_high_quality,
    }


class ToyDataModule(InMemoryDataModule):
    """Float32 points [N, 2, 1, 1] in [-1, 1], labelled by their mode; `modes` and `std` are in those units."""

    preview_size = 1024  # a scatter plot needs many points to show which modes are covered

    noun = "points"

    def __init__(
        self,
        kind: str = "ring",
        num_items: int = 100_000,
        resolution: int = 1,
        channels: int = 2,
        batch_size: int = 256,
        seed: int = 0,
        conditional: bool = False,
        num_workers: int = 0,
    ) -> None:
        super().__init__(resolution, channels, batch_size, seed, conditional, num_workers)
        check_choice("dataset.kind", kind, tuple(KINDS))
        self.kind = kind
        self.name = kind
        self.size = check_int("dataset.num_items", num_items, 1)
        centres, std, self.scale = KINDS[kind]
        self.modes = centres / self.scale  # [K, 2]
        self.std = std / self.scale
        self.source = f"{len(centres)} Gaussians (std {std})"

    def check_shape(self, resolution: int, channels: int) -> None:
        """Points are served as 1x1 images with 2 channels."""
        check_choice("dataset.resolution", resolution, (1,))
        check_choice("dataset.channels", channels, (2,))

    def load(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Sample the points once from a generator seeded with `seed`."""
        generator = torch.Generator().manual_seed(self.seed)
        labels = torch.randint(len(self.modes), (self.size,), generator=generator)
        noise = torch.randn(self.size, 2, generator=generator) * self.std
        return (self.modes[labels] + noise)[:, :, None, None], labels  # [N, 2, 1, 1], [N]

    def preview(self, samples: torch.Tensor, real: bool = False, cols: int | None = None) -> Image.Image:
        """A scatter of `samples` (generated, or real if `real`) over light real points and the mode centres
        (`cols` unused)."""
        from matplotlib.backends.backend_agg import (
            FigureCanvasAgg,  # imported here: matplotlib is slow to import
        )
        from matplotlib.figure import Figure

        points = samples.detach().float().cpu().reshape(len(samples), 2)
        figure = Figure(figsize=(4, 4), dpi=100)
        canvas = FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        # the mode markers go underneath: real points sit within a few pixels of each centre
        axes.scatter(self.modes[:, 0], self.modes[:, 1], s=60, facecolors="none", edgecolors="tab:red",
                     linewidths=0.8, label="modes", zorder=1)
        if real:
            axes.scatter(points[:, 0], points[:, 1], s=2, c="black", label="real", zorder=2)
        else:
            real_points = self.data[0][:PREVIEW_REAL_POINTS].reshape(-1, 2)
            axes.scatter(real_points[:, 0], real_points[:, 1], s=2, c="darkgray", label="real", zorder=2)
            axes.scatter(points[:, 0], points[:, 1], s=2, c="tab:blue", alpha=0.6, label="generated", zorder=3)
        axes.set(xlim=(-1.1, 1.1), ylim=(-1.1, 1.1), aspect="equal")
        stats = mode_statistics(points, self.modes, self.std, min_count=max(1, round(20 * len(points) / 2500)))
        axes.set_xlabel(f"{len(points)} points: {stats['modes']:.0f}/{len(self.modes)} modes, "
                        f"{100 * stats['high_quality']:.1f}% high quality, KL {stats['kl']:.3f}", fontsize=8)
        axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=3, fontsize=7, frameon=False)
        figure.tight_layout()
        canvas.draw()
        return Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")  # [H, W, 4] -> RGB
