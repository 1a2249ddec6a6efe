"""Differentiable augmentation of what D sees: DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for
Data-Efficient GAN Training", sec. 3 and the "Translation + Cutout + Color" policy of Table 1), applied in the
official code's order, colour, translation, cutout (mit-han-lab/data-efficient-gans DiffAugment_pytorch.py,
policy 'color,translation,cutout'), so the zeros shifted in and the cutout hole are not recoloured.

The same augmentation object transforms real and fake images before every D forward (D step, penalties and
G step), so D never sees un-augmented data and G is trained through the augmentation. Every transform is
differentiable w.r.t. the image, draws its parameters per image on the image's device, and is applied to each
image with its own probability (`probability` per policy; 0 leaves the images untouched).
"""
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from gan_lightning.errors import ConfigError


def brightness(x: Tensor) -> Tensor:
    """x + U(-0.5, 0.5) per image."""
    return x + (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """Distance from the per-pixel channel mean scaled by U(0, 2) per image (no-op on one channel)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean


def contrast(x: Tensor) -> Tensor:
    """Distance from the image mean scaled by U(0.5, 1.5) per image."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean


def color(x: Tensor) -> Tensor:
    """DiffAugment's colour policy: brightness, saturation, contrast."""
    return contrast(saturation(brightness(x)))


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by integers in [-ratio * size, ratio * size] per axis, zeros shifted in."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device)
    y = torch.arange(h, device=x.device).view(1, h, 1) + ty  # [N, H, 1] source rows
    xs = torch.arange(w, device=x.device).view(1, 1, w) + tx  # [N, 1, W] source columns
    inside = ((y >= 0) & (y < h) & (xs >= 0) & (xs < w)).unsqueeze(1)  # [N, 1, H, W]
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    shifted = x.permute(0, 2, 3, 1)[batch, y.clamp(0, h - 1), xs.clamp(0, w - 1)]  # [N, H, W, C]
    return shifted.permute(0, 3, 1, 2) * inside


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square of side ratio * size per image, its centre uniform over the image (may be clipped)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device) - ch // 2
    left = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device) - cw // 2
    y = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    hole = (y >= top) & (y < top + ch) & (xs >= left) & (xs < left + cw)  # [N, H, W]
    return x * (~hole).unsqueeze(1).to(x.dtype)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


class DiffAugment(nn.Module):
    """Applies each policy of `policy` (color, translation, cutout; in the order of the list) to each image
    with probability `probability[name]` (default 1, the paper's setting)."""

    def __init__(self, policy: Sequence[str] = ("color", "translation", "cutout"),
                 probability: Mapping[str, float] | None = None, translation_ratio: float = 0.125,
                 cutout_ratio: float = 0.5) -> None:
        super().__init__()
        if isinstance(policy, str):
            policy = [p for p in policy.split(",") if p]
        for name in policy:
            if name not in POLICIES:
                raise ConfigError(f"augment.policy has {name!r}; accepted: {', '.join(POLICIES)}")
        probability = dict(probability or {})
        for name, p in probability.items():
            if name not in POLICIES:
                raise ConfigError(f"augment.probability has {name!r}; accepted: {', '.join(POLICIES)}")
            if not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ConfigError(f"augment.probability.{name}={p!r} is not supported; accepted: 0 <= p <= 1")
        for key, ratio in (("translation_ratio", translation_ratio), ("cutout_ratio", cutout_ratio)):
            if not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
                raise ConfigError(f"augment.{key}={ratio!r} is not supported; accepted: 0 <= ratio <= 1")
        self.policy = list(policy)
        self.probability = {name: float(probability.get(name, 1.0)) for name in self.policy}
        self.ratios = {"translation": translation_ratio, "cutout": cutout_ratio}

    def forward(self, x: Tensor) -> Tensor:
        """Images [N, C, H, W] -> augmented images of the same shape, differentiable w.r.t. x."""
        for name in self.policy:
            p = self.probability[name]
            if p == 0:
                continue
            transform = POLICIES[name]
            out = transform(x, self.ratios[name]) if name in self.ratios else transform(x)
            if p < 1:  # each image on its own coin
                keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= p
                out = torch.where(keep, x, out)
            x = out
        return x

    def extra_repr(self) -> str:
        return ", ".join(f"{name} p={self.probability[name]:g}" for name in self.policy)


class Augmented:
    """D as the training step sees it: D(augment(x), c). Anything else (parameters, modules, a PGGAN D's
    `pooling`) is D's own, so regularizers take it in place of D; gradient penalties differentiate w.r.t. the
    image before augmentation, as StyleGAN2-ADA does. A plain object, not a module: no second copy of D's keys."""

    def __init__(self, discriminator: nn.Module, augment: nn.Module) -> None:
        self.discriminator = discriminator
        self.augment = augment

    def __call__(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.discriminator(self.augment(x), c)

    def after_d_step(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """The augment's hook after each D step, when it has one (ADA moves p from the real logits); its logs."""
        hook = getattr(self.augment, "after_d_step", None)
        return hook(real_logits, fake_logits) if hook is not None else {}

    def __getattr__(self, name: str):
        if name in ("discriminator", "augment"):  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.discriminator, name)
