"""Adaptive discriminator augmentation, ADA (Karras et al. 2020, "Training Generative Adversarial Networks
with Limited Data", sec. 2-3 and appendix B): the `bgc` pipeline applied to every image D sees, each
transform with probability p, and p steered so that D's overfitting heuristic r_t = E[sign(D(real))] stays
at a target (0.6).

The transforms, in the paper's order: x-flip, 90-degree rotation, integer translation (pixel blitting);
isotropic scaling, rotation, anisotropic scaling, rotation, fractional translation (general geometry, one
anti-aliased warp); brightness, contrast, luma flip, hue rotation, saturation (one colour matrix). Each has
a probability multiplier (all 1 for `bgc`; 0 leaves it out). The random numbers are drawn through
`uniform`/`normal` callables, in a fixed order, so a test can replay another implementation's draws.
"""
import math
from collections.abc import Callable, Mapping

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, check_number
from gan_lightning.objectives import ada_ops as ops

OPS = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac",
       "brightness", "contrast", "lumaflip", "hue", "saturation")
GEOMETRIC, COLOR = OPS[:7], OPS[7:]
EXTRA = ("cutout",)  # beyond `bgc`, off unless its multiplier is set (ADA's `bgcfnc` and R3GAN's pipe use it at 1)
# The paper's ranges (appendix B): integer shift up to 1/8 of the size, log2-normal scales with std 0.2,
# rotation up to a full turn, fractional shift with std 1/8 of the size; brightness std 0.2, log2 contrast
# std 0.5, hue up to a full turn, log2 saturation std 1.
XINT_MAX, SCALE_STD, ROTATE_MAX, ANISO_STD, XFRAC_STD = 0.125, 0.2, 1.0, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, HUE_MAX, SATURATION_STD = 0.2, 0.5, 1.0, 1.0
CUTOUT_SIZE = 0.5  # the side of the zeroed square, as a share of the image's (augment.py's cutout_size)

Draw = Callable[[list[int]], Tensor]  # a shape -> that many random numbers


class AdaptiveAugment(nn.Module):
    """ADA: `p=None` adapts p from 0 every `interval` D steps by sign(r_t - target) * images / (speed_kimg
    * 1000), clamped to [0, 1]; a number fixes p. `img_channels` (1 or 3) is checked at construction."""

    def __init__(self, p: float | None = None, target: float = 0.6, interval: int = 4, speed_kimg: float = 500,
                 probability: Mapping[str, float] | None = None, img_channels: int = 3) -> None:
        super().__init__()
        check_number("augment.p", p, 0, 1, nullable=True)
        check_number("augment.target", target, -1, 1)
        check_number("augment.interval", interval, 1, integer=True)
        check_number("augment.speed_kimg", speed_kimg, 0, above=True)
        if img_channels not in (1, 3):
            raise ConfigError(f"augment=ada needs images of 1 or 3 channels; the dataset has img_channels="
                              f"{img_channels!r} (a toy 2-D dataset such as dataset=ring is not an image); "
                              "accepted: an image dataset, or augment=none")
        probability = dict(probability or {})
        for name, value in probability.items():
            if name not in OPS + EXTRA:
                raise ConfigError(f"augment.probability has {name!r}; accepted: {', '.join(OPS + EXTRA)}")
            check_number(f"augment.probability.{name}", value, 0, 1)
        self.multiplier = {name: float(probability.get(name, 1.0 if name in OPS else 0.0)) for name in OPS + EXTRA}
        self.adaptive = p is None
        self.target, self.interval, self.speed_kimg = float(target), interval, float(speed_kimg)
        # the adaptation's state, checkpointed: p, the last r_t, D steps seen, [sum of sign(D(real)), count]
        self.register_buffer("p", torch.tensor(0.0 if p is None else float(p)))
        self.register_buffer("rt", torch.tensor(0.0))
        self.register_buffer("steps", torch.tensor(0, dtype=torch.int64))
        self.register_buffer("signs", torch.zeros(2))
        taps = torch.tensor(ops.SYM6, dtype=torch.float32)
        self.register_buffer("taps", taps / taps.sum(), persistent=False)  # a constant, not state

    def forward(self, images: Tensor) -> Tensor:
        """Images [N, 1 or 3, H, W] -> augmented images of the same shape, differentiable w.r.t. `images`."""
        return self.augment(images, self.random(torch.rand, images.device), self.random(torch.randn, images.device))

    @staticmethod
    def random(sampler: Callable, device: torch.device) -> Draw:
        return lambda shape: sampler(shape, device=device)

    def augment(self, images: Tensor, uniform: Draw, normal: Draw) -> Tensor:
        """`forward` with the random numbers drawn from `uniform` (U[0, 1)) and `normal` (N(0, 1))."""
        if images.ndim != 4 or images.shape[1] not in (1, 3):
            raise ConfigError(f"augment=ada needs images [N, 1 or 3, H, W]; got {list(images.shape)}")
        n, channels, height, width = images.shape
        G_inv = self.geometry(n, width, height, uniform, normal, images.device)
        if G_inv is not None:
            images = ops.warp(images, G_inv, self.taps)
        C = self.color(n, channels, uniform, normal, images.device)
        if C is not None:
            images = ops.recolor(images, C)
        return self.cutout(images, uniform) if self.multiplier["cutout"] > 0 else images

    def cutout(self, images: Tensor, uniform: Draw) -> Tensor:
        """Zero a square of CUTOUT_SIZE of the side at a uniform centre (StyleGAN2-ADA's augment.py, last step),
        per image with probability cutout * p."""
        n, _, height, width = images.shape
        size = self.coin(images.new_full([n, 2], CUTOUT_SIZE), uniform, self.multiplier["cutout"] * self.p, 0)
        center = uniform([n, 2])
        x = (torch.arange(width, device=images.device) + 0.5) / width
        y = (torch.arange(height, device=images.device) + 0.5) / height
        outside_x = (x[None, :] - center[:, :1]).abs() >= size[:, :1] / 2  # [N, W]
        outside_y = (y[None, :] - center[:, 1:]).abs() >= size[:, 1:] / 2  # [N, H]
        mask = outside_x[:, None, None, :] | outside_y[:, None, :, None]
        return images * mask.to(images.dtype)

    def coin(self, draw: Tensor, uniform: Draw, probability: Tensor | float, default: float) -> Tensor:
        """`draw` where a per-image coin shows heads with `probability`, else `default`."""
        shape = [draw.shape[0]] + [1] * (draw.ndim - 1)
        return torch.where(uniform(shape) < probability, draw, torch.full_like(draw, default))

    def geometry(self, n: int, width: int, height: int, uniform: Draw, normal: Draw,
                 device: torch.device) -> Tensor | None:
        """The inverse matrices [N, 3, 3] (output pixel -> input pixel) of the geometric transforms; None when
        every geometric multiplier is 0."""
        m, p = self.multiplier, self.p
        if not any(m[name] > 0 for name in GEOMETRIC):
            return None
        G_inv = torch.eye(3, device=device)
        if m["xflip"] > 0:
            i = self.coin(torch.floor(uniform([n]) * 2), uniform, m["xflip"] * p, 0)
            G_inv = G_inv @ ops.scale2d(1 / (1 - 2 * i), torch.ones_like(i))
        if m["rotate90"] > 0:
            i = self.coin(torch.floor(uniform([n]) * 4), uniform, m["rotate90"] * p, 0)
            G_inv = G_inv @ ops.rotate2d(math.pi / 2 * i)
        if m["xint"] > 0:
            t = self.coin((uniform([n, 2]) * 2 - 1) * XINT_MAX, uniform, m["xint"] * p, 0)
            G_inv = G_inv @ ops.translate2d(-torch.round(t[:, 0] * width), -torch.round(t[:, 1] * height))
        if m["scale"] > 0:
            s = self.coin(torch.exp2(normal([n]) * SCALE_STD), uniform, m["scale"] * p, 1)
            G_inv = G_inv @ ops.scale2d(1 / s, 1 / s)
        # rotation before or after the anisotropic scaling, so that P(pre or post) = rotate * p
        p_rot = 1 - torch.sqrt((1 - m["rotate"] * p).clamp(0, 1))
        for step in ("rotate", "aniso", "rotate"):
            if step == "rotate" and m["rotate"] > 0:
                theta = self.coin((uniform([n]) * 2 - 1) * math.pi * ROTATE_MAX, uniform, p_rot, 0)
                G_inv = G_inv @ ops.rotate2d(theta)
            if step == "aniso" and m["aniso"] > 0:
                s = self.coin(torch.exp2(normal([n]) * ANISO_STD), uniform, m["aniso"] * p, 1)
                G_inv = G_inv @ ops.scale2d(1 / s, s)
        if m["xfrac"] > 0:
            t = self.coin(normal([n, 2]) * XFRAC_STD, uniform, m["xfrac"] * p, 0)
            G_inv = G_inv @ ops.translate2d(-t[:, 0] * width, -t[:, 1] * height)
        return G_inv

    def color(self, n: int, channels: int, uniform: Draw, normal: Draw, device: torch.device) -> Tensor | None:
        """The colour matrices [N, 4, 4] acting on (r, g, b, 1); hue and saturation only for RGB; None when no
        colour transform applies."""
        m, p = self.multiplier, self.p
        rgb = channels > 1
        if not any(m[name] > 0 for name in COLOR if rgb or name not in ("hue", "saturation")):
            return None
        I_4 = torch.eye(4, device=device)
        C = I_4
        if m["brightness"] > 0:
            C = ops.translate3d(self.coin(normal([n]) * BRIGHTNESS_STD, uniform, m["brightness"] * p, 0)) @ C
        if m["contrast"] > 0:
            C = ops.scale3d(self.coin(torch.exp2(normal([n]) * CONTRAST_STD), uniform, m["contrast"] * p, 1)) @ C
        v = torch.tensor(ops.LUMA, device=device)
        vv = torch.outer(v, v)
        if m["lumaflip"] > 0:
            i = self.coin(torch.floor(uniform([n, 1, 1]) * 2), uniform, m["lumaflip"] * p, 0)
            C = (I_4 - 2 * vv * i) @ C  # Householder reflection of the luma axis
        if m["hue"] > 0 and rgb:
            theta = self.coin((uniform([n]) * 2 - 1) * math.pi * HUE_MAX, uniform, m["hue"] * p, 0)
            C = ops.rotate3d(v, theta) @ C  # about the luma axis
        if m["saturation"] > 0 and rgb:
            s = self.coin(torch.exp2(normal([n, 1, 1]) * SATURATION_STD), uniform, m["saturation"] * p, 1)
            C = (vv + (I_4 - vv) * s) @ C
        return C

    @torch.no_grad()
    def after_d_step(self, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
        """Add up sign(D(real)) of a D step; every `interval` steps move p (adaptive only). Logs augment/p and
        augment/rt (the r_t of the last update; 0 before it). All on the device, no host sync; over ranks each
        step's sums are added first, so every rank holds the same state."""
        if not self.adaptive:
            return {"augment/p": self.p.clone()}
        signs = torch.stack([real_logits.sign().sum(), real_logits.new_tensor(real_logits.numel())]).float()
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(signs)
        self.signs += signs
        self.steps += 1
        due = self.steps % self.interval == 0
        rt = self.signs[0] / self.signs[1]
        moved = (self.p + torch.sign(rt - self.target) * self.signs[1] / (self.speed_kimg * 1000)).clamp(0, 1)
        self.p.copy_(torch.where(due, moved, self.p))
        self.rt.copy_(torch.where(due, rt, self.rt))
        self.signs.mul_((~due).float())  # the next interval starts from zero
        return {"augment/p": self.p.clone(), "augment/rt": self.rt.clone()}

    def extra_repr(self) -> str:
        mode = f"adaptive, target={self.target:g}, interval={self.interval}" if self.adaptive else "fixed"
        default = {name: 1.0 if name in OPS else 0.0 for name in self.multiplier}
        return f"p={float(self.p):g} ({mode}), " + ", ".join(f"{k}={v:g}" for k, v in self.multiplier.items()
                                                              if v != default[k])
