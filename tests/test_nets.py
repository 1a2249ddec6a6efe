"""Every net family: shapes, value range, gradients to every parameter, bad input, configs."""

from __future__ import annotations

import importlib
import inspect
import itertools
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from gan_lightning.errors import ConfigError
from gan_lightning.nets import (
    biggan,
    dcgan,
    mlp,
    resnet,
    sagan,
    selfmod,
    sndcgan,
    stylegan,
)
from gan_lightning.nets.checks import NORMALIZATIONS

ARCH_DIR = Path(__file__).resolve().parents[1] / "conf" / "arch"
UNCONDITIONAL = {"mlp": mlp, "dcgan": dcgan, "sndcgan": sndcgan}
CONDITIONAL = {"resnet": resnet, "sagan": sagan, "selfmod": selfmod, "biggan": biggan, "stylegan": stylegan}
FAMILIES = {**UNCONDITIONAL, **CONDITIONAL}
# narrow widths keep the whole file fast on two CPU cores
RESIDUAL = {"channels": 8, "max_channels": 8}
NARROW = {
    "mlp": ({"hidden_sizes": [16, 32], "batch_norm": True}, {"hidden_sizes": [32, 16], "dropout": 0.1}),
    "dcgan": ({"channels": 8, "max_channels": 32}, {"channels": 8, "max_channels": 32}),
    "sndcgan": ({"channels": 8}, {"channels": 8}),
    "resnet": ({**RESIDUAL, "residual_scale": 0.5}, {**RESIDUAL, "channels": 4, "residual_scale": 0.5}),
    "sagan": ({**RESIDUAL, "attention_resolution": 16}, {**RESIDUAL, "attention_resolution": 8}),
    "selfmod": ({**RESIDUAL, "hidden": 4}, RESIDUAL),
    "biggan": ({**RESIDUAL, "shared_dim": 4, "attention_resolution": 8}, {**RESIDUAL, "attention_resolution": 8}),
    "stylegan": ({"w_dim": 8, "channels": 4, "max_channels": 8, "mapping_layers": 3},
                 {"channel_base": 64, "max_channels": 8, "mbstd_group_size": 2}),
}
# (family, img_resolution, img_channels, D normalization): two resolutions each, plus the 2D toy points for mlp;
# every D normalization for the families with their own D (the residual families share resnet's)
CASES = [(f, r, 3, n) for f in [*UNCONDITIONAL, "resnet"] for r in (16, 32) for n in NORMALIZATIONS]
CASES += [(f, r, 3, "none" if f == "stylegan" else "spectral") for f in CONDITIONAL if f != "resnet" for r in (16, 32)]
CASES += [("mlp", 1, 2, n) for n in NORMALIZATIONS]
Z_DIM, BATCH, C_DIM = 8, 4, 3


def build(family: str, img_resolution: int, img_channels: int, normalization: str,
          c_dim: int = 0) -> tuple[nn.Module, nn.Module]:
    """A narrow G and D of one family."""
    g_options, d_options = NARROW[family]
    G = FAMILIES[family].Generator(Z_DIM, img_resolution, img_channels, c_dim=c_dim, **g_options)
    if takes_normalization(family):
        d_options = {**d_options, "normalization": normalization}
    D = FAMILIES[family].Discriminator(img_resolution, img_channels, c_dim=c_dim, **d_options)
    return G, D


def takes_normalization(family: str) -> bool:
    """StyleGAN's D (StyleGAN2's residual D) has no normalization option: R1 and equalized LR stand in for it."""
    return "normalization" in inspect.signature(FAMILIES[family].Discriminator).parameters


def open_gates(*nets: nn.Module) -> None:
    """Attention gates start at 0, which stops gradients to the attention convs: open them for the test."""
    for net in nets:
        for module in net.modules():
            if isinstance(getattr(module, "gate", None), nn.Parameter):
                module.gate.data.fill_(0.5)


def check_nets(G: nn.Module, D: nn.Module, img_resolution: int, img_channels: int, c: torch.Tensor | None) -> None:
    """Shapes, range, finiteness, and a nonzero finite gradient for every parameter of G and D."""
    open_gates(G, D)
    fake = G(torch.randn(BATCH, Z_DIM), c)
    assert fake.shape == (BATCH, img_channels, img_resolution, img_resolution)
    assert torch.isfinite(fake).all() and fake.abs().max() <= 1
    real_logits = D(torch.rand(BATCH, img_channels, img_resolution, img_resolution) * 2 - 1, c)
    assert real_logits.shape == (BATCH,) and torch.isfinite(real_logits).all()
    fake_logits = D(fake, c)
    assert fake_logits.shape == (BATCH,) and torch.isfinite(fake_logits).all()
    (fake_logits.mean() + real_logits.mean()).backward()
    for name, p in itertools.chain(G.named_parameters(prefix="G"), D.named_parameters(prefix="D")):
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("family, img_resolution, img_channels, normalization", CASES)
def test_shapes_values_and_gradients(family: str, img_resolution: int, img_channels: int, normalization: str):
    torch.manual_seed(0)
    G, D = build(family, img_resolution, img_channels, normalization)
    assert (G.z_dim, G.c_dim, G.img_resolution, G.img_channels) == (Z_DIM, 0, img_resolution, img_channels)
    check_nets(G, D, img_resolution, img_channels, None)


@pytest.mark.parametrize("img_resolution", [16, 32])
@pytest.mark.parametrize("family", CONDITIONAL)
def test_conditional_shapes_values_and_gradients(family: str, img_resolution: int):
    torch.manual_seed(0)
    G, D = build(family, img_resolution, 3, "spectral", c_dim=C_DIM)
    assert G.c_dim == D.c_dim == C_DIM
    c = torch.tensor([0, 1, 2, 1])
    check_nets(G, D, img_resolution, 3, c)
    with pytest.raises(ValueError, match="conditional"):
        G(torch.randn(BATCH, Z_DIM))


@pytest.mark.parametrize("family", ["dcgan", "sndcgan"])
@pytest.mark.parametrize("img_resolution", [24, 8])
def test_bad_resolution(family: str, img_resolution: int):
    with pytest.raises(ConfigError, match=f"arch.generator.img_resolution={img_resolution} "):
        build(family, img_resolution, 3, "none")
    with pytest.raises(ConfigError, match=f"arch.discriminator.img_resolution={img_resolution} "):
        FAMILIES[family].Discriminator(img_resolution, 3)


def test_bad_resolution_mlp():
    with pytest.raises(ConfigError, match="img_resolution=0 "):
        mlp.Generator(Z_DIM, 0, 3)
    with pytest.raises(ConfigError, match="img_resolution=0 "):
        mlp.Discriminator(0, 3)


@pytest.mark.parametrize("family", [f for f in FAMILIES if takes_normalization(f)])
def test_bad_normalization(family: str):
    with pytest.raises(ConfigError, match="normalization='instance' .*accepted: none, batch, layer, spectral"):
        build(family, 16, 3, "instance")


@pytest.mark.parametrize("family", UNCONDITIONAL)
def test_unconditional_families_refuse_labels(family: str):
    with pytest.raises(ConfigError, match=f"c_dim=10 is not supported by {family}, which takes no labels"):
        FAMILIES[family].Generator(Z_DIM, 16, 3, c_dim=10)
    with pytest.raises(ConfigError, match=f"c_dim=10 is not supported by {family}, which takes no labels"):
        FAMILIES[family].Discriminator(16, 3, c_dim=10)


def test_sndcgan_generator_parameter_count():
    # z_dim=128, 32x32x3, channels=64 (the paper's CIFAR-10 net), by hand:
    #   linear 128 -> 4*4*512 = 8192, no bias:        128 * 8192         = 1,048,576
    #   BatchNorm1d(8192), weight + bias:             2 * 8192           =    16,384
    #   deconv 512 -> 256, 4x4, no bias; BN(256):     512*256*16 + 512   = 2,097,664
    #   deconv 256 -> 128, 4x4, no bias; BN(128):     256*128*16 + 256   =   524,544
    #   deconv 128 -> 64, 4x4, no bias; BN(64):       128*64*16 + 128    =   131,200
    #   conv 64 -> 3, 3x3, with bias:                 64*3*9 + 3         =     1,731
    #   total                                                            = 3,820,099
    G = sndcgan.Generator(128, 32, 3)
    assert sum(p.numel() for p in G.parameters()) == 3_820_099


def test_dcgan_generator_layers_at_64():
    G = dcgan.Generator(100, 64, 3)
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert [(m.kernel_size, m.stride, m.padding) for m in convs] == [((4, 4), (1, 1), (0, 0))] + [
        ((4, 4), (2, 2), (1, 1))
    ] * 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in G.modules()) == 4  # none on the output layer
    sizes = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:]))) for m in convs]
    G(torch.randn(2, 100))
    for h in hooks:
        h.remove()
    assert sizes == [(512, 4, 4), (256, 8, 8), (128, 16, 16), (64, 32, 32), (3, 64, 64)]


def test_dcgan_discriminator_layers_at_64():
    D = dcgan.Discriminator(64, 3)
    convs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs] == [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 3  # none on the input layer


def test_init_is_dcgan():
    torch.manual_seed(0)
    G = dcgan.Generator(100, 64, 3)
    weights = torch.cat([m.weight.flatten() for m in G.modules() if isinstance(m, nn.ConvTranspose2d)])
    torch.testing.assert_close(weights.std().item(), 0.02, rtol=0.02, atol=0.0)
    bn_weights = torch.cat([m.weight for m in G.modules() if isinstance(m, nn.BatchNorm2d)])
    torch.testing.assert_close(bn_weights.mean().item(), 1.0, rtol=0.01, atol=0.0)


@pytest.mark.parametrize("arch", sorted(p.stem for p in ARCH_DIR.glob("*.yaml")))
def test_arch_configs_instantiate(arch: str, tmp_path):
    from gan_lightning.run.config import compose
    from tests.conftest import ARCH_TINY

    cfg = compose([f"arch={arch}", *ARCH_TINY[arch], "z_dim=16"], tmp_path)  # MNIST's 32x32x1
    G, D = instantiate(cfg.arch.generator), instantiate(cfg.arch.discriminator)
    family = importlib.import_module(f"gan_lightning.nets.{arch.removesuffix('19')}")  # resnet19 is a resnet
    assert isinstance(G, family.Generator) and isinstance(D, family.Discriminator)
    assert D(G(torch.randn(2, G.z_dim))).shape == (2,)  # z_dim=16, or the size of SinGAN's noise maps
