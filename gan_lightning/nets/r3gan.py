"""R3GAN: Huang, Gokaslan, Kuleshov and Tompkin, "The GAN is dead; long live the GAN! A Modern GAN
Baseline", NeurIPS 2024 (arXiv:2501.05441), sec. 3 and Fig. 3 (config E); the networks of the official code,
brownvc/R3GAN `R3GAN/Networks.py`.

A modernized ResNet without normalization layers: each stage is a transition (G: a learned 4x4 basis or a
2x upsampling; D: a 2x downsampling or a depthwise 4x4 basis) and `blocks` inverted-bottleneck residual
blocks, 1x1 conv to `expansion` times the width, grouped 3x3 conv (`cardinality` groups), 1x1 conv back, with
a biased leaky ReLU (0.2) after each of the first two. Fix-up style init: MSR init scaled by
L^(-1/4) for L blocks in the net (L^(-1/(2m-2)) with m = 3 convs per block), the last conv of each block at
zero, so every block starts as the identity. Resampling is interpolative with the low-pass filter built
from [1, 2, 1] (its convolution with [1, 1], i.e. [1, 3, 3, 1], as an outer product). Labels enter as
an embedding: concatenated with z in G, an inner product with D's output vector (projection) in D.

Kept: the layer structure, init and resampling of the reference, so its weights load by a name table
(bench/parity/r3gan.py, tests/test_parity_r3gan.py). Changed: labels are class ids (an embedding instead of
a bias-free linear layer on one-hot vectors: the same function), any number of image channels, no bfloat16
stages (use trainer.precision). The output: the reference's G ends in a 1x1 conv without tanh, so its
images are unbounded during training (`output_tanh=False`, the class default and experiment=r3gan_cifar10's);
conf/arch/r3gan.yaml adds a tanh (`output_tanh: true`), as arch=stylegan does, so that G returns images in
[-1, 1] like every net of this project. On MNIST, whose pixels sit at exactly -1 and 1, the linear output
collapsed to 4-5 classes (bench/RESULTS.md, "The shared cause"); previews and metrics clamp either way.
`output_gain` (>= 1, with the tanh) returns gain * tanh: a plain tanh reaches MNIST's -1 only at -infinity, so
D's "darker" drives G's pre-tanh values into the flat tail where no gradient passes (an all-black G); at 1.1
the data's -1 lies at -1.52 (experiment=r3gan_mnist; bench/RESULTS.md, "R3GAN, session 24").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, check_number, check_power_of_two
from gan_lightning.nets.checks import check_c_dim, check_labels

LEAKY_SLOPE = 0.2
ACTIVATION_GAIN = math.sqrt(2 / (1 + LEAKY_SLOPE**2))  # He et al.'s gain for a leaky ReLU


def msr_init_(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """Weights ~ N(0, (gain / sqrt(fan_in))^2), fan_in = inputs per output (per group); no bias."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    return layer


def conv(in_channels: int, out_channels: int, kernel_size: int = 1, groups: int = 1, gain: float = 1.0) -> nn.Conv2d:
    """A bias-free 'same' conv with MSR init."""
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2, groups=groups,
                      bias=False)
    return msr_init_(layer, gain)


class BiasedLeakyReLU(nn.Module):
    """leaky_relu(x + b, 0.2) with a learned per-channel bias b (zero at init)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: Tensor) -> Tensor:
        bias = self.bias.view(1, -1, *([1] * (x.dim() - 2)))
        return F.leaky_relu(x + bias.to(x.dtype), LEAKY_SLOPE)


class ResidualBlock(nn.Module):
    """x + conv3(act(conv2(act(conv1(x))))): 1x1 expand, grouped kxk, 1x1 back (zero at init)."""

    def __init__(self, channels: int, cardinality: int, expansion: int, total_blocks: int,
                 kernel_size: int = 3) -> None:
        super().__init__()
        expanded = channels * expansion
        gain = ACTIVATION_GAIN * total_blocks ** (-1 / 4)  # fix-up: L^(-1/(2m-2)), m = 3 linear layers
        self.conv1 = conv(channels, expanded, 1, gain=gain)
        self.act1 = BiasedLeakyReLU(expanded)
        self.conv2 = conv(expanded, expanded, kernel_size, groups=cardinality, gain=gain)
        self.act2 = BiasedLeakyReLU(expanded)
        self.conv3 = conv(expanded, channels, 1, gain=0.0)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))


def lowpass_kernel(taps: Sequence[float]) -> Tensor:
    """The 2-D interpolation filter: taps convolved with [1, 1], outer product, normalized to sum 1."""
    f = torch.tensor([float(t) for t in taps], dtype=torch.float64)
    f = F.pad(f, (0, 1)) + F.pad(f, (1, 0))  # numpy.convolve(taps, [1, 1])
    kernel = torch.outer(f, f)
    return (kernel / kernel.sum()).float()


class Resample(nn.Module):
    """2x up (transposed conv with 4x the filter) or down (strided conv) of every channel by the low-pass filter."""

    def __init__(self, up: bool, taps: Sequence[float] = (1, 2, 1)) -> None:
        super().__init__()
        self.up, self.padding = up, len(taps) // 2
        kernel = lowpass_kernel(taps) * (4 if up else 1)  # up: keep the mean through the zero insertion
        self.register_buffer("kernel", kernel[None, None], persistent=False)  # [1, 1, k, k]

    def forward(self, x: Tensor) -> Tensor:
        # depthwise (groups = channels) rather than one channel over a batch of n * c: the same sums, and on
        # CPU about 12x faster (the single-channel transposed conv misses the oneDNN path)
        c = x.shape[1]
        kernel = self.kernel.to(x.dtype).expand(c, 1, *self.kernel.shape[2:]).contiguous()
        if self.up:
            return F.conv_transpose2d(x, kernel, stride=2, padding=self.padding, groups=c)
        return F.conv2d(x, kernel, stride=2, padding=self.padding, groups=c)


class Transition(nn.Module):
    """Between stages: 2x resampling and, where the width changes, a 1x1 conv at the lower resolution."""

    def __init__(self, in_channels: int, out_channels: int, up: bool, taps: Sequence[float]) -> None:
        super().__init__()
        self.up = up
        self.resample = Resample(up, taps)
        self.conv = conv(in_channels, out_channels) if in_channels != out_channels else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.resample(self.conv(x)) if self.up else self.conv(self.resample(x))


class GenerativeBasis(nn.Module):
    """G's 4x4 input: a learned basis [C, 4, 4] scaled per channel by a linear map of z (and the label embedding)."""

    def __init__(self, in_features: int, channels: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(channels, 4, 4))
        self.linear = msr_init_(nn.Linear(in_features, channels, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.basis[None] * self.linear(x)[:, :, None, None]  # [N, C, 4, 4]


class DiscriminativeBasis(nn.Module):
    """D's 4x4 output: a depthwise 4x4 conv to one value per channel, then a linear map."""

    def __init__(self, channels: int, out_features: int) -> None:
        super().__init__()
        self.basis = msr_init_(nn.Conv2d(channels, channels, 4, groups=channels, bias=False))
        self.linear = msr_init_(nn.Linear(channels, out_features, bias=False))

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.basis(x).flatten(1))  # [N, out_features]


def label_embedding(c_dim: int, embed_dim: int, gain: float = 1.0) -> nn.Embedding:
    """A class embedding [c_dim, embed_dim]: the reference's bias-free linear map of one-hot labels, MSR init
    (drawn as that layer, so a seed gives the reference's weights), stored transposed as an Embedding."""
    linear = msr_init_(nn.Linear(c_dim, embed_dim, bias=False), gain)
    return nn.Embedding.from_pretrained(linear.weight.detach().T.contiguous(), freeze=False)


def per_stage(role: str, key: str, value: int | Sequence[int], stages: int) -> list[int]:
    """One integer >= 1 per stage: an integer for all stages, or a list of `stages` of them."""
    values = [value] * stages if isinstance(value, int) else list(value)
    if len(values) != stages or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in values):
        raise ConfigError(f"arch.{role}.{key}={value!r} is not supported; accepted: an integer >= 1 or a list "
                          f"of {stages} of them (one per stage at this resolution)")
    return values


def check_stages(role: str, img_resolution: int, width, cardinality, blocks, expansion: int) -> tuple[list, ...]:
    """Validate the stage options; return (widths, cardinalities, blocks), one per stage, in the order the net runs."""
    stages = check_power_of_two(f"arch.{role}.img_resolution", img_resolution, 4) - 1
    check_number(f"arch.{role}.expansion", expansion, 1, integer=True)
    widths, cards, counts = (per_stage(role, k, v, stages) for k, v in
                             (("width", width), ("cardinality", cardinality), ("blocks", blocks)))
    for w, g in zip(widths, cards):
        if (w * expansion) % g:
            raise ConfigError(f"arch.{role}.cardinality={cardinality!r} is not supported with width={width!r} and "
                              f"expansion={expansion}; accepted: divisors of width * expansion ({w * expansion})")
    return widths, cards, counts


class Generator(nn.Module):
    """z [N, z_dim] (and labels c [N]) -> images [N, C, H, W]: output_gain * tanh with `output_tanh` (in [-1, 1]
    at gain 1), else unbounded (the reference's linear output)."""

    def __init__(self, z_dim: int, img_resolution: int, img_channels: int, c_dim: int = 0,
                 width: int | Sequence[int] = 768, cardinality: int | Sequence[int] = 96,
                 blocks: int | Sequence[int] = 2, expansion: int = 2, embed_dim: int | None = None,
                 kernel_size: int = 3, resample_taps: Sequence[float] = (1, 2, 1), output_tanh: bool = False,
                 output_gain: float = 1.0) -> None:
        super().__init__()
        self.z_dim, self.img_resolution, self.img_channels = z_dim, img_resolution, img_channels
        self.output_tanh = output_tanh
        self.output_gain = check_number("arch.generator.output_gain", output_gain, 1.0)
        if output_gain != 1 and not output_tanh:
            raise ConfigError(f"arch.generator.output_gain={output_gain!r} is not supported with output_tanh=false "
                              "(the gain scales the tanh); accepted: 1")
        self.c_dim = check_c_dim("generator", c_dim)
        widths, cards, counts = check_stages("generator", img_resolution, width, cardinality, blocks, expansion)
        embed_dim = z_dim if embed_dim is None else check_number("arch.generator.embed_dim", embed_dim, 1,
                                                                 integer=True)
        total = sum(counts)
        inputs = [z_dim + (embed_dim if c_dim else 0), *widths[:-1]]
        self.transitions, self.stages = nn.ModuleList(), nn.ModuleList()
        for i, (a, w, g, n) in enumerate(zip(inputs, widths, cards, counts)):  # built in the reference's order
            self.transitions.append(GenerativeBasis(a, w) if i == 0 else Transition(a, w, up=True, taps=resample_taps))
            self.stages.append(nn.Sequential(*(ResidualBlock(w, g, expansion, total, kernel_size) for _ in range(n))))
        self.to_image = conv(widths[-1], img_channels)
        self.embed = label_embedding(c_dim, embed_dim) if c_dim else None

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        check_labels(self.c_dim, c)
        x = z if self.embed is None else torch.cat([z, self.embed(c)], dim=1)
        for transition, stage in zip(self.transitions, self.stages):
            x = stage(transition(x))
        x = self.to_image(x)
        return self.output_gain * torch.tanh(x) if self.output_tanh else x


class Discriminator(nn.Module):
    """Images [N, C, H, W] (and labels c [N]) -> logits [N]."""

    def __init__(self, img_resolution: int, img_channels: int, c_dim: int = 0,
                 width: int | Sequence[int] = 768, cardinality: int | Sequence[int] = 96,
                 blocks: int | Sequence[int] = 2, expansion: int = 2, embed_dim: int | None = None,
                 kernel_size: int = 3, resample_taps: Sequence[float] = (1, 2, 1)) -> None:
        super().__init__()
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.c_dim = check_c_dim("discriminator", c_dim)
        widths, cards, counts = check_stages("discriminator", img_resolution, width, cardinality, blocks, expansion)
        embed_dim = widths[-1] if embed_dim is None else check_number("arch.discriminator.embed_dim", embed_dim, 1,
                                                                      integer=True)
        total = sum(counts)
        self.stages, self.transitions = nn.ModuleList(), nn.ModuleList()
        for i, (w, g, n) in enumerate(zip(widths, cards, counts)):  # built in the reference's order
            last = i == len(widths) - 1
            self.transitions.append(DiscriminativeBasis(w, embed_dim if c_dim else 1) if last
                                    else Transition(w, widths[i + 1], up=False, taps=resample_taps))
            self.stages.append(nn.Sequential(*(ResidualBlock(w, g, expansion, total, kernel_size) for _ in range(n))))
        self.from_image = conv(img_channels, widths[0])
        # the reference's gain 1 / sqrt(embed_dim) on the projection embedding
        self.embed = label_embedding(c_dim, embed_dim, 1 / math.sqrt(embed_dim)) if c_dim else None

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        check_labels(self.c_dim, c)
        x = self.from_image(x)
        for stage, transition in zip(self.stages, self.transitions):
            x = transition(stage(x))
        if self.embed is not None:
            return (x * self.embed(c)).sum(dim=1)  # projection: <D's output vector, embedding of c>
        return x.squeeze(1)
