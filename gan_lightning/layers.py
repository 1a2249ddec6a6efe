"""Blocks shared by two or more net families: D normalization, spectral norm, DCGAN init, width ladders,
and the equalized-learning-rate layers, pixel norm and minibatch stddev of PGGAN and StyleGAN."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_lightning.errors import ConfigError, check_choice, check_number, check_power_of_two

# compare_gan's choices for D: none, BatchNorm, LayerNorm, spectral norm
NORMALIZATIONS = ("none", "batch", "layer", "spectral")


def check_normalization(kind: str) -> str:
    """Raise ConfigError unless `kind` is one of NORMALIZATIONS; return it."""
    check_choice("arch.discriminator.normalization", kind, NORMALIZATIONS)
    return kind


CONDITIONAL_ARCHS = "resnet, sagan, selfmod, biggan, stylegan"


def check_unconditional(role: str, family: str, c_dim: int) -> None:
    """Raise ConfigError for c_dim != 0: this family takes no labels."""
    if c_dim != 0:
        raise ConfigError(f"arch.{role}.c_dim={c_dim!r} is not supported by {family}, which takes no labels; "
                          f"accepted: 0, or a conditional arch ({CONDITIONAL_ARCHS})")


def check_c_dim(role: str, c_dim: int) -> int:
    """Raise ConfigError unless c_dim (the number of classes, 0 for none) is an integer >= 0; return it."""
    if not isinstance(c_dim, int) or c_dim < 0:
        raise ConfigError(f"arch.{role}.c_dim={c_dim!r} is not supported; accepted: an integer >= 0 (classes)")
    return c_dim


def check_labels(c_dim: int, c: Tensor | None) -> None:
    """Raise ValueError when a conditional net (c_dim > 0) is called without labels."""
    if c_dim and c is None:
        raise ValueError(f"this net is conditional (c_dim={c_dim}): pass labels c [N] (int64 class ids)")


def check_conv_net(role: str, family: str, img_resolution: int, c_dim: int, normalization: str = "none") -> int:
    """Validate the arguments every conv net shares (resolution a power of two >= 16); return log2(resolution)."""
    check_unconditional(role, family, c_dim)
    check_normalization(normalization)
    return check_power_of_two(f"arch.{role}.img_resolution", img_resolution, 16)


def d_norm(kind: str, channels: int, ndim: int = 2) -> nn.Module:
    """Normalization after a layer: BatchNorm, a per-sample layer norm, or Identity (none, spectral)."""
    check_normalization(kind)
    if kind == "batch":
        return nn.BatchNorm2d(channels) if ndim == 2 else nn.BatchNorm1d(channels)
    if kind == "layer":
        # one group: mean and variance over (C, H, W) of each sample, affine per channel
        return nn.GroupNorm(1, channels) if ndim == 2 else nn.LayerNorm(channels)
    return nn.Identity()  # spectral acts on the weights, see apply_spectral


def has_bias(kind: str) -> bool:
    """Whether a layer followed by normalization `kind` needs a bias (BatchNorm subtracts it again)."""
    return kind != "batch"


def maybe_spectral(module: nn.Module, kind: str) -> nn.Module:
    """Spectral-normalize the weight of `module` in place when kind == 'spectral'; return it."""
    if kind == "spectral":
        spectral_norm(module)
    return module


def apply_spectral(net: nn.Module, kind: str) -> nn.Module:
    """Spectral-normalize every Conv2d and Linear of `net` when kind == 'spectral' (call after init)."""
    for layer in list(net.modules()):  # a list: registering parametrizations adds modules
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            maybe_spectral(layer, kind)
    return net


def init_dcgan_(net: nn.Module) -> nn.Module:
    """DCGAN init: conv and linear weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0."""
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
        elif isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(layer.weight, 1.0, 0.02)
        else:
            continue
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)
    return net


def check_sizes(role: str, minimum: int = 1, **sizes: int) -> None:
    """Raise ConfigError naming `arch.<role>.<key>` unless every size is an integer >= minimum."""
    for key, value in sizes.items():
        check_number(f"arch.{role}.{key}", value, minimum, integer=True)


def widths(channels: int, cap: int, count: int) -> list[int]:
    """`count` G widths, coarsest first: the last is `channels`, each earlier one doubles, capped at `cap`."""
    return [min(channels << (count - 1 - i), cap) for i in range(count)]


def up_block(in_channels: int, out_channels: int, stride: int = 2, padding: int = 1) -> nn.Sequential:
    """ConvTranspose2d 4x4 (stride 2 doubles H, W) + BatchNorm + ReLU; no bias, BatchNorm removes it."""
    return nn.Sequential(
        nn.ConvTranspose2d(in_channels, out_channels, 4, stride, padding, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
    )


def down_block(
    in_channels: int, out_channels: int, kernel_size: int, stride: int, normalization: str, slope: float
) -> nn.Sequential:
    """Conv2d (H, W divided by stride) + normalization + LeakyReLU(slope); spectral norm comes later."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, bias=has_bias(normalization)),
        d_norm(normalization, out_channels),
        nn.LeakyReLU(slope),
    )


# --- Karras et al. (PGGAN 2018, sec. 4; StyleGAN 2019): layers shared by pggan and stylegan -------------


class EqualizedLinear(nn.Module):
    """Linear layer with equalized learning rate (PGGAN sec. 4.1).

    Weights are stored as N(0, 1 / lr_multiplier) and scaled at run time by
    gain / sqrt(fan_in) * lr_multiplier (He's constant), so Adam sees every weight on the same scale.
    `lr_multiplier` < 1 slows a layer down (StyleGAN's mapping net uses 0.01).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = math.sqrt(2),
                 lr_multiplier: float = 1.0, bias_init: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), bias_init / lr_multiplier)) if bias else None
        self.weight_gain = gain / math.sqrt(in_features) * lr_multiplier
        self.bias_gain = lr_multiplier

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.bias_gain
        return F.linear(x, self.weight * self.weight_gain, bias)


class EqualizedConv2d(nn.Module):
    """Conv2d (stride 1, 'same' padding) with equalized learning rate: N(0, 1) weights times gain / sqrt(fan_in)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 gain: float = math.sqrt(2), padding: int | None = None) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = gain / math.sqrt(in_channels * kernel_size * kernel_size)
        self.padding = kernel_size // 2 if padding is None else padding

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.weight_gain, self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """Pixel-wise feature vector normalization (PGGAN sec. 4.2): x / sqrt(mean over channels of x^2 + eps)."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + self.eps)


class MinibatchStddev(nn.Module):
    """Minibatch standard deviation (PGGAN sec. 3): one extra feature map per group of samples.

    The batch is split into groups of `group_size` (the official code's 4; the whole batch when it does not
    divide); within a group, the standard deviation of every feature at every pixel is averaged into one
    number, appended to each sample of the group as a constant channel. [N, C, H, W] -> [N, C + 1, H, W].
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size = group_size
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        if n % g:
            g = n
        y = x.reshape(g, n // g, c, h, w).float()  # sample i lands in group i % (n // g), as the official code
        y = (y.var(dim=0, unbiased=False) + self.eps).sqrt()  # [n/g, C, H, W]
        y = y.mean(dim=(1, 2, 3)).to(x.dtype)  # [n/g]
        y = y.repeat(g).reshape(n, 1, 1, 1).expand(n, 1, h, w)
        return torch.cat([x, y], dim=1)


def upsample(x: Tensor, factor: int) -> Tensor:
    """Nearest-neighbour upsampling by an integer factor: [N, C, H, W] -> [N, C, H * f, W * f]."""
    return x if factor == 1 else F.interpolate(x, scale_factor=factor, mode="nearest")


def downsample(x: Tensor, factor: int) -> Tensor:
    """Average pooling by an integer factor: [N, C, H, W] -> [N, C, H / f, W / f]."""
    return x if factor == 1 else F.avg_pool2d(x, factor)


def fade_resolution(x: Tensor, resolution: int, alpha: float) -> Tensor:
    """Images at full size shown as PGGAN's D sees them at `resolution` while it fades in (sec. 3, Figure 2).

    x [N, C, R, R] is average-pooled to `resolution`, blended with its half-resolution version (pooled once
    more, upsampled back) by alpha, and nearest-upsampled to R again: alpha = 0 gives the previous stage,
    alpha = 1 the new one. The output path of the progressive G does the same to its toRGB images.
    """
    size = x.shape[-1]
    x = downsample(x, size // resolution)
    if alpha < 1 and resolution > 1:
        x = torch.lerp(upsample(downsample(x, 2), 2), x, alpha)
    return upsample(x, size // resolution)


# --- residual nets (SNGAN, SAGAN, SELF-MOD, BigGAN): conditional BN, residual blocks, self-attention ----------


def init_residual_(net: nn.Module, kind: str = "xavier") -> nn.Module:
    """Initialise conv, linear and embedding weights: 'xavier' (SNGAN's Glorot uniform) or 'orthogonal' (BigGAN)."""
    check_choice("arch.init", kind, ("xavier", "orthogonal"))
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding)) and not getattr(layer, "keep_init", False):
            (nn.init.xavier_uniform_ if kind == "xavier" else nn.init.orthogonal_)(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
    return net


class Modulation(nn.Module):
    """Per-sample BN scale and shift: embeddings of class ids, or a linear map or 2-layer MLP of a vector y.

    Returns (gamma, beta), each [N, channels]; the BN applies x_hat * (1 + gamma) + beta.
    """

    def __init__(self, channels: int, num_classes: int = 0, y_dim: int = 0, hidden: int = 0) -> None:
        super().__init__()

        def head() -> nn.Module:
            if num_classes:  # conditional BN of SNGAN/SAGAN: a gamma and a beta per class, starting at identity
                embedding = nn.Embedding(num_classes, channels)
                nn.init.zeros_(embedding.weight)
                embedding.keep_init = True
                return embedding
            if hidden:  # SELF-MOD: W2 relu(W1 y + b1) + b2
                return nn.Sequential(nn.Linear(y_dim, hidden), nn.ReLU(), nn.Linear(hidden, channels))
            return nn.Linear(y_dim, channels, bias=False)  # BigGAN: a linear map of [shared embedding, z chunk]

        self.gamma, self.beta = head(), head()

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        return self.gamma(y), self.beta(y)


class ConditionalBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift depend on each sample, x_hat * (1 + gamma(y)) + beta(y) (de Vries et al.
    2017); without a modulation, plain BatchNorm2d with learned per-channel affine (y ignored)."""

    def __init__(self, channels: int, modulation: Modulation | None = None) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=modulation is None)
        self.modulation = modulation

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        x = self.bn(x)
        if self.modulation is None:
            return x
        gamma, beta = self.modulation(y)  # [N, C] each
        return x * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]


class GBlock(nn.Module):
    """Residual up-block of SNGAN/BigGAN G: BN-ReLU-up-conv3x3-BN-ReLU-conv3x3 + up-conv1x1 shortcut.

    `norm(channels)` builds the (conditional) BNs; the output is shortcut + residual_scale * residual.
    """

    def __init__(self, in_channels: int, out_channels: int, norm, residual_scale: float = 1.0) -> None:
        super().__init__()
        self.norm1, self.norm2 = norm(in_channels), norm(out_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)  # learnable: the block always upsamples
        self.residual_scale = residual_scale

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, y)), scale_factor=2.0, mode="nearest")
        h = self.conv2(F.relu(self.norm2(self.conv1(h), y)))
        return self.shortcut(F.interpolate(x, scale_factor=2.0, mode="nearest")) + self.residual_scale * h


class DBlock(nn.Module):
    """Residual block of SNGAN D: ReLU-conv3x3-ReLU-conv3x3(-avgpool) + conv1x1(-avgpool) shortcut.

    The first block (SNGAN's OptimizedBlock) sees the image: no leading ReLU, and its shortcut pools first.
    `normalization` batch/layer goes before each ReLU; spectral norm is applied to the whole net later.
    """

    def __init__(self, in_channels: int, out_channels: int, down: bool, first: bool = False,
                 normalization: str = "none", residual_scale: float = 1.0) -> None:
        super().__init__()
        self.down, self.first, self.residual_scale = down, first, residual_scale
        self.norm1 = nn.Identity() if first else d_norm(normalization, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = d_norm(normalization, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        learnable = first or down or in_channels != out_channels
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1) if learnable else None

    def pool(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(x, 2) if self.down else x

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(self.norm1(x))
        h = self.pool(self.conv2(F.relu(self.norm2(self.conv1(h)))))
        if self.shortcut is None:
            s = x
        elif self.first:
            s = self.shortcut(self.pool(x))
        else:
            s = self.pool(self.shortcut(x))
        return s + self.residual_scale * h


class SelfAttention(nn.Module):
    """SAGAN self-attention (Zhang et al. 2019, sec. 4): y_j = x_j + gate * v(sum_i beta_ji h(x_i)),
    beta_ji = softmax over i of f(x_i) . g(x_j).

    f, g, h are 1x1 convs to C/8 channels (the paper's memory saving), v a 1x1 conv back to C; the learned
    scalar gate starts at 0, so the block is the identity at initialisation.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        inner = max(channels // 8, 1)
        self.key = nn.Conv2d(channels, inner, 1, bias=False)  # f, at the attended positions i
        self.query = nn.Conv2d(channels, inner, 1, bias=False)  # g, at the output position j
        self.value = nn.Conv2d(channels, inner, 1, bias=False)  # h
        self.out = nn.Conv2d(inner, channels, 1, bias=False)  # v
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        q, k, v = (layer(x).flatten(2) for layer in (self.query, self.key, self.value))  # [N, C/8, HW]
        attention = torch.softmax(q.transpose(1, 2) @ k, dim=-1)  # beta [N, HW_j, HW_i], softmax over i
        o = (v @ attention.transpose(1, 2)).view(n, -1, h, w)  # o_j = sum_i beta_ji h(x_i)
        return x + self.gate * self.out(o)


def truncate_z(z: Tensor, threshold: float) -> Tensor:
    """BigGAN's truncation trick without a random resample: N(0, 1) values mapped to N(0, 1) truncated to
    [-threshold, threshold] through the normal CDF (the same distribution as resampling out-of-range values)."""
    if threshold <= 0:
        raise ConfigError(f"truncation={threshold!r} is not supported; accepted: a threshold > 0 (e.g. 0.5 to 2)")
    low = torch.special.ndtr(torch.tensor(-float(threshold), dtype=torch.float64)).item()
    u = torch.special.ndtr(z.double())
    return torch.special.ndtri(low + u * (1 - 2 * low)).to(z.dtype)
