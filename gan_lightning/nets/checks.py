"""What every family checks and chooses the same way: D normalization (compare_gan's none, BatchNorm,
LayerNorm, spectral norm), label conditioning, sizes and width ladders."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from gan_lightning.errors import (
    ConfigError,
    check_choice,
    check_number,
    check_power_of_two,
)

# compare_gan's choices for D: none, BatchNorm, LayerNorm, spectral norm
NORMALIZATIONS = ("none", "batch", "layer", "spectral")


def check_normalization(kind: str) -> str:
    """Raise ConfigError unless `kind` is one of NORMALIZATIONS; return it."""
    check_choice("arch.discriminator.normalization", kind, NORMALIZATIONS)
    return kind


CONDITIONAL_ARCHS = "resnet, sagan, selfmod, biggan, stylegan, r3gan"


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




def check_sizes(role: str, minimum: int = 1, **sizes: int) -> None:
    """Raise ConfigError naming `arch.<role>.<key>` unless every size is an integer >= minimum."""
    for key, value in sizes.items():
        check_number(f"arch.{role}.{key}", value, minimum, integer=True)


def widths(channels: int, cap: int, count: int) -> list[int]:
    """`count` G widths, coarsest first: the last is `channels`, each earlier one doubles, capped at `cap`."""
    return [min(channels << (count - 1 - i), cap) for i in range(count)]
