"""Mode statistics of 2-D Gaussian mixtures, the VEEGAN / PacGAN protocol (Srivastava et al. 2017, sec. 5.1;
Lin et al. 2018, sec. 5).

Each generated point is assigned to its nearest mode. It is "high quality" when it lies within
`threshold_std` (3) standard deviations of that mode. A mode is "captured" when at least `min_count` (20 of
2,500) high-quality points land on it. The KL divergence is KL(p || uniform) of the histogram of
high-quality points over the modes: 0 when they are spread evenly, log K when all sit on one mode (also the
value reported when there are no high-quality points at all).
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def mode_statistics(points: Tensor, modes: Tensor, std: float, threshold_std: float = 3.0,
                    min_count: int = 20) -> dict[str, float]:
    """{'modes': captured modes, 'high_quality': share of high-quality points, 'kl': KL to uniform} of points [N, 2]."""
    points = points.detach().reshape(len(points), -1).double().cpu()  # [N, 2]
    modes = modes.double().cpu()  # [K, 2]
    distance, nearest = torch.cdist(points, modes).min(dim=1)  # [N], [N]
    good = distance <= threshold_std * std
    counts = torch.bincount(nearest[good], minlength=len(modes)).double()  # [K]
    total = counts.sum()
    if total > 0:
        p = counts[counts > 0] / total
        kl = float((p * (p * len(modes)).log()).sum())
    else:
        kl = math.log(len(modes))
    return {
        "modes": float((counts >= min_count).sum()),
        "high_quality": float(good.double().mean()) if len(points) else 0.0,
        "kl": kl,
    }
