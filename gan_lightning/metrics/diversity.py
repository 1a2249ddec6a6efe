"""MS-SSIM diversity (Odena et al. 2017; Kurach et al. 2019, "The GAN Landscape") and the Inception Score.

MS-SSIM diversity is the mean multi-scale SSIM (Wang et al. 2003) of random pairs of generated images:
lower is more diverse. The same number for pairs of real images is reported beside it (`msssim_real`).
Pairs are consecutive images of each batch (the batches are i.i.d. samples, or a random choice of reals).
Five scales need images larger than 160 px; smaller images use the first scales that fit (at least
11 px, the Gaussian window, at the coarsest scale) with the standard weights renormalised to sum to 1,
and provenance records the scales used.
"""
from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure
from torchmetrics.utilities.data import dim_zero_cat

from gan_lightning.errors import ConfigError
from gan_lightning.metrics.base import Metric, Sums

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, per scale, fine to coarse
WINDOW = 11


def ms_ssim_weights(size: int) -> tuple[float, ...]:
    """The scale weights for size x size images: up to 5 scales, the coarsest at least WINDOW px wide."""
    if size < 16:
        raise ConfigError(f"msssim: images of {size}x{size} are too small; accepted: resolution >= 16")
    scales = min(len(MS_SSIM_WEIGHTS), 1 + int(math.log2(size / WINDOW)))
    weights = MS_SSIM_WEIGHTS[:scales]
    return tuple(w / sum(weights) for w in weights)


def ms_ssim(a: Tensor, b: Tensor) -> Tensor:
    """MS-SSIM of each pair of uint8 images a[i], b[i] [N, C, H, W] (range 0..255): [N]."""
    weights = ms_ssim_weights(min(a.shape[-2:]))
    return multiscale_structural_similarity_index_measure(
        a.float(), b.float(), data_range=255.0, kernel_size=WINDOW, sigma=1.5, betas=weights, reduction="none")


class MSSSIM(Metric):
    """Mean MS-SSIM of random pairs of fake images (lower = more diverse), and of real pairs beside it."""

    name = "msssim"

    def __init__(self) -> None:
        super().__init__(feature=None)
        self.sums = Sums()
        self.size = 0

    def update(self, x: Tensor, real: bool) -> None:
        pairs = x.shape[0] // 2
        self.size = x.shape[-1]
        self.sums.update(ms_ssim(x[0 : 2 * pairs : 2], x[1 : 2 * pairs : 2]), real)

    def compute(self) -> dict[str, float]:
        real, fake = self.sums.compute()
        return {"msssim": fake, "msssim_real": real}

    def settings(self) -> dict[str, Any]:
        weights = ms_ssim_weights(self.size) if self.size else ()
        return {"scales": len(weights), "weights": [round(w, 4) for w in weights], "window": f"gaussian {WINDOW}, sigma 1.5",
                "pairs": "consecutive images of each batch"}


def inception_score_unavailable() -> str | None:
    """Why the Inception Score cannot run here, or None when torch-fidelity and its weights are present."""
    why = ("is: unavailable: the Inception Score needs the Inception logits, which the offline FID weights "
           "(pool3 only) lack; ")
    if importlib.util.find_spec("torch_fidelity") is None:
        return why + "torch-fidelity is not installed (pip install -e '.[fidelity]' next to a matching torchvision)"
    cached = Path(torch.hub.get_dir()) / "checkpoints" / "weights-inception-2015-12-05-6726825d.pth"
    if not cached.is_file():
        return why + f"torch-fidelity's weights are not in {cached.parent} (it downloads them on first use)"
    return None


def inception_score(logits: Tensor, splits: int = 10, order: Tensor | None = None) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split of the logits [N, classes] (rows in `order`, then split at
    i * N // splits), and the mean and population std over splits: torch-fidelity's `metric_isc.py`."""
    logits = (logits if order is None else logits[order.to(logits.device)]).double()
    p, log_p = logits.softmax(dim=1), logits.log_softmax(dim=1)
    n = len(logits)
    scores = []
    for i in range(splits):
        rows = slice(i * n // splits, (i + 1) * n // splits)
        q = p[rows].mean(dim=0, keepdim=True)
        scores.append((p[rows] * (log_p[rows] - q.log())).sum(dim=1).mean().exp())
    scores = torch.stack(scores)
    return float(scores.mean()), float(scores.std(correction=0))


class InceptionScore(Metric):
    """Salimans et al. 2016, through torch-fidelity's Inception logits; reports itself unavailable otherwise.
    The score itself is `inception_score` on the logits, shuffled by a permutation seeded by `seed`."""

    name = "is"
    needs_real = False

    def __init__(self, splits: int = 10, seed: int = 0) -> None:
        super().__init__(feature=None)
        self.splits, self.seed = splits, seed
        self.unavailable = inception_score_unavailable()
        self.state = None
        if self.unavailable is None:
            from torchmetrics.image.inception import InceptionScore as TorchmetricsIS

            self.state = TorchmetricsIS(feature="logits_unbiased", splits=splits)

    def update(self, x: Tensor, real: bool) -> None:
        if self.state is not None and not real:
            self.state.update(x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x)

    def compute(self) -> dict[str, float]:
        if self.state is None:
            return {}
        logits = dim_zero_cat(self.state.features)  # what torchmetrics' state holds: the logits [N, 1008]
        order = torch.randperm(len(logits), generator=torch.Generator().manual_seed(self.seed))
        mean, std = inception_score(logits, self.splits, order)
        return {"is": mean, "is_std": std}

    def settings(self) -> dict[str, Any]:
        return {"splits": self.splits, "network": "torch-fidelity inception-v3-compat logits",
                "shuffle": f"a permutation seeded {self.seed}", "std": "population (ddof 0)"}
