"""Reference parity of the Karras families (StyleGAN G, PGGAN), SinGAN, BEGAN and SELF-MOD.

Each fixture in tests/fixtures/parity/ was written by bench/parity/<family>.py from the reference code itself
(its docstring names the repository and commit): the weights under our names, the inputs and the reference's
outputs (for D, also the input gradient of the summed outputs). Here they are loaded into our nets, which must
give the same numbers: max abs error <= 1e-5 unless a test states another tolerance and why.
SELF-MOD has no PyTorch reference: it is checked against the paper's equations, computed by hand.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.nets import selfmod, singan
from gan_lightning.nets.blocks import ConditionalBatchNorm2d
from gan_lightning.nets.stylegan import mix_styles

FIXTURES = Path(__file__).parent / "fixtures" / "parity"


def load(family: str) -> tuple[torch.nn.Module, dict, dict]:
    """Our net with the fixture's weights (strict: every tensor named), the inputs and the reference's outputs."""
    data = np.load(FIXTURES / f"{family}.npz")
    config = json.loads(str(data["config"]))
    module, name = config["target"].rsplit(".", 1)
    net = getattr(importlib.import_module(module), name)(**config["kwargs"])
    part = {p: {k.split("/", 1)[1]: torch.from_numpy(data[k]) for k in data.files if k.startswith(p + "/")}
            for p in ("w", "in", "out")}
    state = net.state_dict()
    missing = set(state) - set(part["w"])
    assert all(k.endswith("_extra_state") for k in missing), missing  # the stage of a growing net, not a weight
    net.load_state_dict(part["w"] | {k: state[k] for k in missing}, strict=True)
    return net.eval(), part["in"], part["out"]


def assert_match(ours: torch.Tensor, ref: torch.Tensor, atol: float = 1e-5) -> None:
    """Max abs error <= atol, on reference values large enough for that to mean something."""
    assert ref.abs().max() > 100 * atol, "the fixture's values are too small to test at this tolerance"
    assert_close(ours, ref, atol=atol, rtol=0)


def input_grad(net: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """net(x) and the gradient of its sum with respect to x."""
    x = x.clone().requires_grad_(True)
    out = net(x)
    (grad,) = torch.autograd.grad(out.sum(), x)
    return out.detach(), grad


def test_stylegan_generator_matches_rosinality():
    G, x, ref = load("stylegan")
    noise = [x[f"noise{i}"] for i in range(3) for _ in range(2)]  # the reference's one map per block, per layer
    with torch.no_grad():
        w1, w2 = G.mapping(x["z1"]), G.mapping(x["z2"])
        assert_match(w1, ref["w"])
        ws = w1[:, None].expand(-1, G.num_ws, -1)
        assert_match(G.synthesis(ws, noise), ref["image"])
        mixed = G.synthesis(mix_styles(ws, w2, int(x["cutoff"])), noise)
        assert_match(mixed, ref["image_mixed"])
        truncated = G.synthesis(G.styles(x["z1"], truncation=float(x["truncation"])), noise)  # eval: no mixing
        assert_match(truncated, ref["image_truncated"])



@pytest.mark.parametrize("alpha", [0.3, 0.7, 1.0])
def test_pggan_generator_matches_pytorch_gan_zoo(alpha):
    G, x, ref = load("pggan_g")
    G.grow(16, alpha)  # the 16x16 block fading in (ours: alpha weighs the new block; the zoo's: the old one)
    with torch.no_grad():
        assert_match(G(x["z"]), ref[f"image@{alpha}"])


@pytest.mark.parametrize("alpha", [0.3, 0.7, 1.0])
def test_pggan_discriminator_matches_pytorch_gan_zoo(alpha):
    D, x, ref = load("pggan_d")
    D.grow(16, alpha)
    logits, grad = input_grad(D, x["x"])
    assert_match(logits, ref[f"logits@{alpha}"])
    assert_match(grad, ref[f"grad@{alpha}"])


@pytest.mark.parametrize("padding", ["input", "conv"])
def test_singan_one_scale_matches_tamarott(padding):
    """Each scale's G step and D score; in training mode (the reference's BatchNorm on one image)."""
    G, x, ref = load(f"singan_g_{padding}")
    D, _, ref_d = load(f"singan_d_{padding}")
    G.train(), D.train()
    for k in range(G.num_scales):
        with torch.no_grad():
            assert_match(G.step(k, x[f"prev{k}"], x[f"noise{k}"]), ref[f"fake{k}"])
            assert_match(D.nets[k](x[f"x{k}"]), ref_d[f"map{k}"])
        D.scale = k
        logits, grad = input_grad(D, x[f"x{k}"])
        assert_match(logits, ref_d[f"logit{k}"])
        assert_match(grad, ref_d[f"grad{k}"], atol=1e-7)  # the mean over the map makes this gradient small


def test_began_matches_carpedm20_pytorch():
    G, x, ref = load("began_g")
    with torch.no_grad():
        assert_match(G(x["z"]), ref["image"])
    D, x, ref = load("began_d")
    with torch.no_grad():
        assert_match(D.reconstruct(x["x"]), ref["reconstruction"])
    error, grad = input_grad(D, x["x"])
    assert_match(error, ref["error"])
    assert_match(grad, ref["grad"], atol=1e-7)  # a mean over 3072 pixels: gradients of order 1 / 3072


def paper_modulated_bn(x: torch.Tensor, y: torch.Tensor, norm: torch.nn.Module) -> torch.Tensor:
    """SELF-MOD eq. (2)-(3) by hand: BN(x) (batch statistics) * gamma(y) + beta(y), each of gamma, beta a 2-layer
    MLP W2 relu(W1 y + b1) + b2, gamma's output offset by 1 (compare_gan starts gamma's bias at 1)."""
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
    x_hat = (x - mean) / torch.sqrt(var + norm.bn.eps)

    def mlp(seq: torch.nn.Sequential) -> torch.Tensor:
        (w1, b1), (w2, b2) = (seq[0].weight, seq[0].bias), (seq[2].weight, seq[2].bias)
        return torch.clamp(y @ w1.T + b1, min=0) @ w2.T + b2  # [N, C]

    gamma, beta = 1 + mlp(norm.modulation.gamma), mlp(norm.modulation.beta)
    return x_hat * gamma[:, :, None, None] + beta[:, :, None, None]


@pytest.mark.parametrize("c_dim", [0, 5])
def test_selfmod_matches_the_paper_equations(c_dim):
    """Every BN of G, the output BN included, is modulated by z (unconditional) or z' = z + E(c) + E'(c) * z."""
    torch.manual_seed(0)
    G = selfmod.Generator(8, 16, 3, c_dim=c_dim, channels=4, max_channels=8, hidden=6).train()
    with torch.no_grad():
        for p in G.parameters():
            p.copy_(torch.randn_like(p) * 0.5)  # no zero-initialised embedding or bias hides a term
    norms = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == 2 * G.num_blocks + 1
    seen = []
    for norm in norms:
        norm.register_forward_hook(lambda m, args, out: seen.append((m, *args, out)))
    z = torch.randn(6, 8)
    c = torch.arange(6) % 5 if c_dim else None
    G(z, c)
    if c_dim:  # z' by hand, from the embedding tables E and E'
        z_prime = z + G.embed_shift.weight[c] + G.embed_scale.weight[c] * z
    else:
        z_prime = z
    assert len(seen) == len(norms)
    for norm, x, y, out in seen:
        assert_close(y, z_prime, atol=0, rtol=0)
        assert_match(out, paper_modulated_bn(x, z_prime, norm))


def test_singan_padding_is_conv_or_input():
    with pytest.raises(ConfigError, match=r"^arch.generator.padding='same' is not supported; accepted: conv, input$"):
        singan.Generator([33, 44], padding="same")
