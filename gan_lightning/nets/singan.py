"""SinGAN: Shaham, Dekel and Michaeli, "SinGAN: Learning a Generative Model from a Single Natural Image",
ICCV 2019 (arXiv:1905.01164).

Follows sec. 2.1 and Figure 4 (a pyramid of fully-convolutional patch GANs; scale n's G adds a residual to the
upsampled output of scale n-1, fed with that image plus spatial noise; 5 conv blocks Conv(3x3)-norm-LeakyReLU(0.2)
with a receptive field of 11 px; 32 kernels per block, doubled every 4 scales), sec. 2.2 (scales trained one at
a time, coarse to fine, the coarser ones frozen; the noise of scale n has the standard deviation of the RMSE
between the real image at scale n and the upsampled reconstruction of scale n-1, times 0.1; the reconstruction
uses a fixed noise map at the coarsest scale and zero noise elsewhere), sec. 4 (coarsest scale about 25 px,
factor about 0.75: r = (min_size / short side) ** (1 / steps), steps rounded up) and the official code
(tamarott/SinGAN: coarsest-scale noise of one channel shared by the colours; width 32 up to 128; each scale's
nets start from the previous scale's weights when the widths agree; weights N(0, 0.02)).
Differences: each conv zero-pads its input (`padding="conv"`, the default; `padding="input"` is the official
code's: G's input zero-padded once by 5 px, the receptive field's radius, and unpadded convs, so D scores only
the patches inside the image), and the norm (`norm="instance"`, the default) is an instance norm, which is
what the official batch norm computes on its batches of one image in training mode. `norm="batch"` is the
official code's: BatchNorm2d, whose running statistics the finished scales use (the official code calls eval()
on each one), and every scale uses at sampling time (G_ema and generate run in eval mode); with the default,
frozen and sampled scales normalise by each image's own statistics, as in training.
tests/test_parity_karras.py checks one scale's G and D against tamarott/SinGAN in both paddings.
Every scale is built up front; `grow(scale, real)` picks the scale, so checkpoints always have the same keys.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, check_choice
from gan_lightning.nets.checks import check_unconditional


def pyramid_sizes(img_size: Sequence[int], min_size: int = 25,
                  scale_factor: float = 0.75) -> list[tuple[int, int]]:
    """(height, width) of every scale, coarse to fine: the short side goes from `min_size` to the image's
    in steps of r >= scale_factor (the number of steps rounded up, r adjusted to land exactly)."""
    if (not isinstance(img_size, Sequence) or isinstance(img_size, str) or len(img_size) != 2
            or not all(isinstance(s, int) and s > 0 for s in img_size)):  # a list, tuple or a config's ListConfig
        raise ConfigError(f"arch.img_size={img_size!r} is not supported; accepted: [height, width], two integers > 0")
    if not isinstance(min_size, int) or min_size < 3:
        raise ConfigError(f"arch.min_size={min_size!r} is not supported; accepted: an integer >= 3")
    if not isinstance(scale_factor, (int, float)) or not 0.3 <= scale_factor < 1:
        raise ConfigError(f"arch.scale_factor={scale_factor!r} is not supported; accepted: 0.3 <= scale_factor < 1")
    height, width = int(img_size[0]), int(img_size[1])
    short = min(height, width)
    if short < min_size:
        raise ConfigError(f"arch.min_size={min_size!r} is larger than the image's short side ({short} px of "
                          f"{height}x{width}); accepted: min_size <= {short}, or a larger dataset.max_size")
    steps = math.ceil(math.log(min_size / short) / math.log(scale_factor) - 1e-9)
    r = (min_size / short) ** (1 / steps) if steps else 1.0
    return [(round(height * r ** (steps - k)), round(width * r ** (steps - k))) for k in range(steps + 1)]


def scale_widths(num_scales: int, width: int, max_width: int, width_every: int) -> list[int]:
    """Kernels per conv block at each scale: `width`, doubled every `width_every` scales, at most `max_width`."""
    for key, value in (("width", width), ("max_width", max_width), ("width_every", width_every)):
        if not isinstance(value, int) or value < 1:
            raise ConfigError(f"arch.{key}={value!r} is not supported; accepted: an integer >= 1")
    return [min(width * 2 ** (k // width_every), max_width) for k in range(num_scales)]


def resize(x: Tensor, size: tuple[int, int]) -> Tensor:
    """Bicubic resize of [N, C, H, W] to `size` (antialiased when shrinking), as SinGAN moves between scales."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False, antialias=True)


PADDINGS = {"conv": 1, "input": 0}  # the zero padding of each 3x3 conv
NORMS = {"instance": lambda c: nn.InstanceNorm2d(c, affine=True), "batch": nn.BatchNorm2d}
INPUT_PAD = 5  # padding="input": G's input padded by the receptive field's radius, (3 - 1) * 5 / 2


def conv_block(in_channels: int, out_channels: int, padding: int = 1, norm: str = "instance") -> nn.Sequential:
    """Conv 3x3 (zero padding 1 keeps the size; 0 shrinks it by 2), instance or batch norm, LeakyReLU(0.2)."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, padding=padding), NORMS[norm](out_channels),
                         nn.LeakyReLU(0.2))


@contextmanager
def eval_mode(net: nn.Module, on: bool):
    """Run `net` in eval mode inside the block when `on` (a finished scale's BatchNorm: running statistics)."""
    if not on:
        yield
        return
    net.eval()
    try:
        yield
    finally:
        net.train()


class ScaleNet(nn.Sequential):
    """The net of one scale: 4 conv blocks and a 3x3 output conv (receptive field 11 px), tanh for G."""

    def __init__(self, in_channels: int, width: int, out_channels: int, tanh: bool, padding: int = 1,
                 norm: str = "instance") -> None:
        blocks = [conv_block(in_channels, width, padding, norm), *(conv_block(width, width, padding, norm)
                                                                   for _ in range(3))]
        super().__init__(*blocks, nn.Conv2d(width, out_channels, 3, padding=padding), *([nn.Tanh()] if tanh else []))
        for m in self.modules():  # the official initialisation (DCGAN's)
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.InstanceNorm2d, nn.BatchNorm2d)):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)


class Pyramid(nn.Module):
    """What G and D share: the scales' sizes and nets, and the current `scale` (saved in the state dict)."""

    def __init__(self, role: str, img_size: list[int], img_channels: int, c_dim: int, min_size: int,
                 scale_factor: float, width: int, max_width: int, width_every: int, out_channels: int,
                 tanh: bool, padding: str = "conv", norm: str = "instance") -> None:
        super().__init__()
        check_unconditional(role, "singan", c_dim)
        check_choice(f"arch.{role}.padding", padding, PADDINGS)
        check_choice(f"arch.{role}.norm", norm, NORMS)
        self.padding, self.norm = padding, norm
        if img_channels not in (1, 3):
            raise ConfigError(f"arch.{role}.img_channels={img_channels!r} is not supported; accepted: 1 or 3")
        self.sizes = pyramid_sizes(img_size, min_size, scale_factor)
        self.img_channels, self.c_dim = img_channels, c_dim
        self.img_resolution = max(self.sizes[-1])  # the long side, for code that asks for a resolution
        self.widths = scale_widths(len(self.sizes), width, max_width, width_every)
        self.nets = nn.ModuleList(ScaleNet(img_channels, w, out_channels, tanh, PADDINGS[padding], norm)
                                  for w in self.widths)
        self.scale = 0

    @property
    def num_scales(self) -> int:
        return len(self.sizes)

    def grow(self, scale: int, real: Tensor | None = None) -> None:
        """Train scale `scale` (0: coarsest); each newly entered scale starts from the previous one's weights
        when the widths agree. `real` [1, C, H, W] in [-1, 1] is the full-size image (G needs it)."""
        if not isinstance(scale, int) or not 0 <= scale < self.num_scales:
            raise ConfigError(f"scale={scale!r} is not supported by this {type(self).__name__}; "
                              f"accepted: 0 to {self.num_scales - 1}")
        for k in range(self.scale + 1, scale + 1):
            if self.widths[k] == self.widths[k - 1]:
                self.nets[k].load_state_dict(self.nets[k - 1].state_dict())
            self.enter(k, real)
        self.scale = scale

    def enter(self, scale: int, real: Tensor | None) -> None:
        """Work to do once when training moves on to `scale`, after its weights are set."""

    def get_extra_state(self) -> Tensor:
        return torch.tensor(self.scale)

    def set_extra_state(self, state: Tensor) -> None:
        self.scale = int(state)


class Generator(Pyramid):
    """G: z (the noise maps of every scale, flattened) -> the image at the current scale, [N, C, h, w]."""

    def __init__(self, img_size: list[int], img_channels: int = 3, c_dim: int = 0, min_size: int = 25,
                 scale_factor: float = 0.75, width: int = 32, max_width: int = 128, width_every: int = 4,
                 noise_amp: float = 0.1, padding: str = "conv", norm: str = "instance") -> None:
        super().__init__("generator", img_size, img_channels, c_dim, min_size, scale_factor, width, max_width,
                         width_every, out_channels=img_channels, tanh=True, padding=padding, norm=norm)
        self.noise_amp = noise_amp
        # noise channels per scale: the coarsest one is grey (shared by the colours), as in the official code
        self.noise_channels = [1] + [img_channels] * (self.num_scales - 1)
        self.z_dim = sum(c * h * w for c, (h, w) in zip(self.noise_channels, self.sizes))
        self.register_buffer("amps", torch.tensor([1.0] + [noise_amp] * (self.num_scales - 1)))
        self.register_buffer("z_rec", torch.randn(1, 1, *self.sizes[0]))  # the fixed reconstruction noise

    def split(self, z: Tensor) -> list[Tensor]:
        """z [N, z_dim] -> the noise maps of scales 0..scale, [N, c_k, h_k, w_k]."""
        maps, start = [], 0
        for c, (h, w) in zip(self.noise_channels[: self.scale + 1], self.sizes):
            maps.append(z[:, start : start + c * h * w].reshape(-1, c, h, w))
            start += c * h * w
        return maps

    def synthesize(self, noises: list[Tensor], sizes: list[tuple[int, int]], frozen: bool = False) -> Tensor:
        """Run scales 0..len(noises)-1 on the noise maps; only the last one records gradients, and only the
        current scale (not when `frozen`) runs in training mode under norm="batch". [N, C, h, w]"""
        last = len(noises) - 1
        x = noises[0].new_zeros(noises[0].shape[0], self.img_channels, *sizes[0])
        for k, noise in enumerate(noises):
            finished = self.norm == "batch" and self.nets[k].training and (frozen or k != self.scale)
            with torch.set_grad_enabled(torch.is_grad_enabled() and k == last), eval_mode(self.nets[k], finished):
                x = self.step(k, resize(x, sizes[k]), noise)  # coarser scales are frozen
        return x

    def step(self, k: int, x: Tensor, noise: Tensor) -> Tensor:
        """Scale k on the upsampled output x of scale k-1 [N, C, h, w]: x + G_k(x + amp_k * noise)."""
        h = x + self.amps[k] * noise
        if self.padding == "input":
            h = F.pad(h, [INPUT_PAD] * 4)
        return x + self.nets[k](h)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.synthesize(self.split(z), self.sizes)

    def reconstruct(self, scale: int | None = None, frozen: bool = False) -> Tensor:
        """The reconstruction at `scale` (default: the current one): fixed noise at scale 0, none above; `frozen`:
        every scale as a finished one. [1, C, h, w]"""
        scale = self.scale if scale is None else scale
        noises = [self.z_rec] + [self.z_rec.new_zeros(1, 1, 1, 1)] * scale
        return self.synthesize(noises, self.sizes, frozen)

    def enter(self, scale: int, real: Tensor | None) -> None:
        """The noise amplitude of a new scale: noise_amp * RMSE(real at the scale, upsampled reconstruction)."""
        if real is None:
            raise ValueError("SinGAN's Generator.grow needs the real image to set the noise of a new scale")
        with torch.no_grad():
            below = resize(self.reconstruct(scale - 1, frozen=True), self.sizes[scale])
            target = resize(real[:1].to(below), self.sizes[scale]).clamp(-1, 1)
            self.amps[scale] = self.noise_amp * (target - below).square().mean().sqrt()

    @torch.no_grad()
    def sample(self, n: int, height_scale: float = 1.0, width_scale: float = 1.0,
               generator: torch.Generator | None = None) -> Tensor:
        """`n` random images at the current scale with every scale's size multiplied by the two factors
        (SinGAN's samples of other sizes and aspect ratios: the noise maps take the new shape). [n, C, h, w]"""
        sizes = [(max(1, round(h * height_scale)), max(1, round(w * width_scale)))
                 for h, w in self.sizes[: self.scale + 1]]
        noises = [torch.randn(n, c, h, w, generator=generator).to(self.amps.device)
                  for c, (h, w) in zip(self.noise_channels, sizes)]
        return self.synthesize(noises, sizes)


class Discriminator(Pyramid):
    """D: the patch critic of the current scale; its score map averaged to one logit per image, [N]."""

    def __init__(self, img_size: list[int], img_channels: int = 3, c_dim: int = 0, min_size: int = 25,
                 scale_factor: float = 0.75, width: int = 32, max_width: int = 128, width_every: int = 4,
                 padding: str = "conv", norm: str = "instance") -> None:
        super().__init__("discriminator", img_size, img_channels, c_dim, min_size, scale_factor, width, max_width,
                         width_every, out_channels=1, tanh=False, padding=padding, norm=norm)  # a score map

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.nets[self.scale](x).mean(dim=(1, 2, 3))
