"""Residual nets (SNGAN, SAGAN, SELF-MOD, BigGAN): init, conditional BN, residual blocks, self-attention,
truncation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import ConfigError, check_choice
from gan_lightning.nets.checks import d_norm

UPSAMPLE_MODES = ("nearest", "bilinear")
ATTENTION_FORMS = ("paper", "official")


def init_residual_(net: nn.Module, kind: str = "xavier") -> nn.Module:
    """Initialise conv, linear and embedding weights, biases to 0: 'xavier' (SNGAN's Glorot uniform, gain
    `layer.xavier_gain` or 1) or 'orthogonal' (BigGAN, gain 1 everywhere)."""
    check_choice("arch.init", kind, ("xavier", "orthogonal"))
    for layer in net.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear, nn.Embedding)) and not getattr(layer, "keep_init", False):
            if kind == "xavier":
                nn.init.xavier_uniform_(layer.weight, getattr(layer, "xavier_gain", 1.0))
            else:
                nn.init.orthogonal_(layer.weight)
            if getattr(layer, "bias", None) is not None:
                nn.init.zeros_(layer.bias)
    return net


def residual_conv(in_channels: int, out_channels: int) -> nn.Conv2d:
    """A 3x3 conv of a residual branch, Glorot gain sqrt(2) under init 'xavier'; the shortcut 1x1 convs, G's first
    linear and output conv, D's linear and the projection embedding keep gain 1. As the SNGAN code,
    pfnet-research/sngan_projection e84b1a5 (gen_models/resblocks.py 21-38, dis_models/resblocks.py 16-26 and
    55-61, gen_models/resnet_32.py 17-22, dis_models/snresnet_32.py 17-19), and kwotsin/mimicry a7fda06
    (torch_mimicry/modules/resblocks.py 84-85, 102, 202-203, 212, 275-277; nets/sngan/sngan_32.py 35-36, 80;
    nets/cgan_pd/cgan_pd_32.py 107-108). Biases start at 0, Chainer's default (Mimicry keeps torch's)."""
    conv = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
    conv.xavier_gain = math.sqrt(2.0)
    return conv


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
    `upsample`: "nearest" (the SNGAN Chainer code, BigGAN) or "bilinear" (Mimicry's GBlock, align_corners=False).
    """

    def __init__(self, in_channels: int, out_channels: int, norm, residual_scale: float = 1.0,
                 upsample: str = "nearest") -> None:
        super().__init__()
        check_choice("arch.generator.upsample", upsample, UPSAMPLE_MODES)
        self.up = {"mode": upsample} if upsample == "nearest" else {"mode": upsample, "align_corners": False}
        self.norm1, self.norm2 = norm(in_channels), norm(out_channels)
        self.conv1 = residual_conv(in_channels, out_channels)
        self.conv2 = residual_conv(out_channels, out_channels)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1)  # learnable: the block always upsamples
        self.residual_scale = residual_scale

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = F.interpolate(F.relu(self.norm1(x, y)), scale_factor=2.0, **self.up)
        h = self.conv2(F.relu(self.norm2(self.conv1(h), y)))
        return self.shortcut(F.interpolate(x, scale_factor=2.0, **self.up)) + self.residual_scale * h


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
        self.conv1 = residual_conv(in_channels, out_channels)
        self.norm2 = d_norm(normalization, out_channels)
        self.conv2 = residual_conv(out_channels, out_channels)
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
    `form="official"` is the block of the SAGAN TensorFlow code, BigGAN-PyTorch and Mimicry instead: h has C/2
    channels, and f(x) and h(x) are max-pooled 2x2 (the attended positions i are a quarter of the pixels).
    """

    def __init__(self, channels: int, form: str = "paper") -> None:
        super().__init__()
        check_choice("arch.attention_form", form, ATTENTION_FORMS)
        inner = max(channels // 8, 1)
        values = inner if form == "paper" else max(channels // 2, 1)
        self.pool = form == "official"
        self.key = nn.Conv2d(channels, inner, 1, bias=False)  # f, at the attended positions i
        self.query = nn.Conv2d(channels, inner, 1, bias=False)  # g, at the output position j
        self.value = nn.Conv2d(channels, values, 1, bias=False)  # h
        self.out = nn.Conv2d(values, channels, 1, bias=False)  # v
        self.gate = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        k, v = self.key(x), self.value(x)
        if self.pool:
            k, v = F.max_pool2d(k, 2), F.max_pool2d(v, 2)
        q, k, v = self.query(x).flatten(2), k.flatten(2), v.flatten(2)  # [N, C', HW] (HW / 4 for pooled k, v)
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
