"""arch=r3gan and loss=rpgan against the official R3GAN code (brownvc/R3GAN at 19a7ddf).

The numbers in tests/fixtures/parity/r3gan.npz come from `python bench/parity/r3gan.py --ref <checkout>`:
the reference's initial weights for a seed, its G and D outputs and D's input gradient for redrawn weights
(stored under our names), its R1 / R2 values, and its RpGAN losses and gradients on fixed logits.
Tolerance 1e-5 absolute (float32; the outputs are O(1)): the ops are the same, only summed in another order.
"""
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch.testing import assert_close

from gan_lightning.nets import r3gan
from gan_lightning.objectives.regularizers import R1, R2

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "parity" / "r3gan.npz")
REPO = Path(__file__).resolve().parents[1]
# the settings of bench/parity/r3gan.py (G's stage lists; D takes them reversed)
SETTINGS = {
    "cond": dict(z_dim=8, c_dim=3, width=[16, 12, 8], cardinality=[4, 2, 2], blocks=[1, 2, 1], expansion=2,
                 g_embed=5, d_embed=6),
    "uncond": dict(z_dim=6, c_dim=0, width=[8, 8, 4], cardinality=[2, 4, 1], blocks=[2, 1, 1], expansion=3,
                   g_embed=0, d_embed=0),
}
TOL = dict(atol=1e-5, rtol=0)


def ours(s: dict) -> tuple[r3gan.Generator, r3gan.Discriminator]:
    resolution = int(FIXTURE["resolution"])
    G = r3gan.Generator(s["z_dim"], resolution, 3, c_dim=s["c_dim"], width=s["width"], cardinality=s["cardinality"],
                        blocks=s["blocks"], expansion=s["expansion"], embed_dim=s["g_embed"] or None)
    D = r3gan.Discriminator(resolution, 3, c_dim=s["c_dim"], width=s["width"][::-1],
                            cardinality=s["cardinality"][::-1], blocks=s["blocks"][::-1], expansion=s["expansion"],
                            embed_dim=s["d_embed"] or None)
    return G, D


def fixture_weights(prefix: str) -> dict[str, torch.Tensor]:
    return {k.removeprefix(prefix): torch.from_numpy(FIXTURE[k]) for k in FIXTURE.files if k.startswith(prefix)}


def state(G, D) -> dict[str, torch.Tensor]:
    return {**{f"G.{k}": v for k, v in G.state_dict().items()}, **{f"D.{k}": v for k, v in D.state_dict().items()}}


def load(key: str, s: dict):
    G, D = ours(s)
    weights = fixture_weights(f"{key}/weights/")
    G.load_state_dict({k[2:]: v for k, v in weights.items() if k.startswith("G.")})
    D.load_state_dict({k[2:]: v for k, v in weights.items() if k.startswith("D.")})
    c = torch.from_numpy(FIXTURE[f"{key}/c"]) if s["c_dim"] else None
    return G, D, torch.from_numpy(FIXTURE[f"{key}/z"]), c, torch.from_numpy(FIXTURE[f"{key}/images"])


@pytest.mark.parametrize("key", SETTINGS)
def test_init_draws_the_references_weights_for_the_same_seed(key):
    torch.manual_seed(0)
    G, D = ours(SETTINGS[key])
    expected = fixture_weights(f"{key}/init/")
    got = state(G, D)
    assert set(got) == set(expected)
    for name, value in expected.items():
        assert_close(got[name], value, atol=0, rtol=0, msg=name)
    # fix-up: the last conv of every block starts at zero, so each block is the identity
    assert all(torch.count_nonzero(v) == 0 for k, v in got.items() if k.endswith("conv3.weight"))


@pytest.mark.parametrize("key", SETTINGS)
def test_generator_and_discriminator_match_the_reference(key):
    G, D, z, c, x = load(key, SETTINGS[key])
    with torch.no_grad():
        assert_close(G(z, c), torch.from_numpy(FIXTURE[f"{key}/G_out"]), **TOL)
    x.requires_grad_(True)
    logits = D(x, c)
    assert_close(logits.detach(), torch.from_numpy(FIXTURE[f"{key}/D_logits"]), **TOL)
    (grad,) = torch.autograd.grad(logits.sum(), x)
    assert_close(grad, torch.from_numpy(FIXTURE[f"{key}/D_input_grad"]), **TOL)


@pytest.mark.parametrize("key", SETTINGS)
def test_r1_and_r2_match_r3gans_penalties(key):
    # R3GAN's D loss adds (gamma / 2) (R1 + R2) per sample: our R1 and R2 with weight gamma, each
    G, D, z, c, x = load(key, SETTINGS[key])
    gamma = float(FIXTURE["gamma"])
    with torch.no_grad():
        fake = G(z, c)
    for regularizer, name in ((R1(weight=gamma), "r1"), (R2(weight=gamma), "r2")):
        expected = gamma / 2 * torch.from_numpy(FIXTURE[f"{key}/{name}"]).mean()
        assert_close(regularizer(D, x, fake, c), expected, **TOL)


def test_rpgan_loss_and_gradients_match_r3gans_trainer():
    loss = instantiate(OmegaConf.load(REPO / "conf" / "loss" / "rpgan.yaml"))
    assert loss.uses_real_in_g
    real = torch.from_numpy(FIXTURE["loss/real_logits"]).requires_grad_(True)
    fake = torch.from_numpy(FIXTURE["loss/fake_logits"]).requires_grad_(True)
    d = loss.d(real, fake)
    assert_close(d.detach(), torch.from_numpy(FIXTURE["loss/d"]), **TOL)
    grad_real, grad_fake = torch.autograd.grad(d, (real, fake))
    assert_close(grad_real, torch.from_numpy(FIXTURE["loss/d_grad_real"]), **TOL)
    assert_close(grad_fake, torch.from_numpy(FIXTURE["loss/d_grad_fake"]), **TOL)
    g = loss.g(fake, real.detach())
    assert_close(g.detach(), torch.from_numpy(FIXTURE["loss/g"]), **TOL)
    (grad_fake,) = torch.autograd.grad(g, fake)
    assert_close(grad_fake, torch.from_numpy(FIXTURE["loss/g_grad_fake"]), **TOL)
