"""arch=stylegan2 against NVlabs/stylegan2-ada-pytorch (training/networks.py, training/loss.py): the fixture
tests/fixtures/parity/families/stylegan2.npz, written by bench/parity/stylegan2.py from the reference itself, holds its
weights under our names, the inputs and its outputs. Our nets, built from our config, must give them.

Tolerance: max abs error 1e-5 (measured: G 5e-6 on images up to ~15, D 6e-7, path length 2e-6, R1 3e-6:
float32 sums in another order), 1e-7 for D's input gradient (values ~1e-2).
"""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from gan_lightning.objectives.generator_penalties import PathLength
from gan_lightning.objectives.regularizers import R1
from gan_lightning.run.config import compose

FIXTURE = Path(__file__).parent / "fixtures" / "parity" / "families" / "stylegan2.npz"


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    with np.load(FIXTURE) as data:
        meta = json.loads(str(data["meta"]))
        arrays = {key: torch.from_numpy(data[key].copy()) for key in data.files if key != "meta"}
    # the reference's G is linear; the fixture predates the option (arch=stylegan2 itself ends in a tanh)
    overrides = [*meta["overrides"], "arch.generator.output_tanh=false"]
    cfg = compose(overrides, tmp_path_factory.mktemp("parity"))
    nets = {}
    for role, key in (("G", "generator"), ("D", "discriminator")):
        net = instantiate(cfg.arch[key])
        weights = {k.split("/", 2)[2]: v for k, v in arrays.items() if k.startswith(f"w/{role}/")}
        net.load_state_dict(weights, strict=True)  # every weight and buffer named by the table
        nets[role] = net
    return meta, arrays, nets


def close(actual: torch.Tensor, expected: torch.Tensor, atol: float = 1e-5) -> None:
    torch.testing.assert_close(actual, expected, atol=atol, rtol=0)


def test_fixture_is_small_and_names_the_reference():
    assert FIXTURE.stat().st_size < 2 * 1024 * 1024
    meta = json.loads(str(np.load(FIXTURE)["meta"]))
    assert meta["reference"] == "NVlabs/stylegan2-ada-pytorch" and len(meta["commit"]) == 40


def test_generator_matches_with_const_noise_and_truncation(fixture):
    _, a, nets = fixture
    G = nets["G"].eval()
    with torch.no_grad():
        close(G(a["in/z"], a["in/c"], noise_mode="const"), a["out/G/img"])
        close(G(a["in/z"], a["in/c"], truncation=0.7, noise_mode="const"), a["out/G/img_psi0.7"])


def test_discriminator_logits_and_input_gradient_match(fixture):
    _, a, nets = fixture
    x = a["in/img"].clone().requires_grad_(True)
    logits = nets["D"](x, a["in/c"])
    (grad,) = torch.autograd.grad(logits.sum(), x)
    close(logits, a["out/D/logits"])
    close(grad, a["out/D/img_grad"], atol=1e-7)  # the gradients are ~1e-2


class ConstNoise(nn.Module):
    """Our G with the fixture's noise buffers in synthesis, as the reference's loss ran it."""

    def __init__(self, G: nn.Module) -> None:
        super().__init__()
        self.G, self.z_dim = G, G.z_dim

    def styles(self, z, c=None):
        return self.G.styles(z, c)

    def synthesis(self, ws):
        return self.G.synthesis(ws, noise_mode="const")


def grads_match(net: nn.Module, arrays: dict, prefix: str) -> None:
    for name, p in net.named_parameters():
        expected = arrays[f"{prefix}/{name}"]
        close(p.grad if p.grad is not None else torch.zeros_like(p), expected)  # None: the reference's 0


def test_path_length_penalty_pl_mean_and_gradients_match_the_greg_phase(fixture, monkeypatch):
    meta, a, nets = fixture
    G = nets["G"].train()
    G.zero_grad(set_to_none=True)
    reg = PathLength(**meta["path_length"])
    reg.pl_mean.fill_(float(a["in/pl_mean"]))
    n = a["in/pl_direction"].shape[0]
    monkeypatch.setattr(torch, "randn", lambda *size, **kwargs: a["in/z"][:n].clone())  # the reference's z[:n]
    monkeypatch.setattr(torch, "randn_like", lambda t, **kwargs: a["in/pl_direction"].clone())
    penalty = reg.generator_penalty(ConstNoise(G), real=a["in/img"], c=a["in/c"])
    monkeypatch.undo()
    penalty.backward()
    close(penalty, a["out/pl"])
    close(reg.pl_mean, a["out/pl_mean"])
    grads_match(G, a, "out/pl_grad")


def test_r1_and_its_gradients_match_the_dreg_phase(fixture):
    meta, a, nets = fixture
    D = nets["D"]
    D.zero_grad(set_to_none=True)
    penalty = R1(**meta["r1"])(D, a["in/img"], a["in/img"], a["in/c"])
    penalty.backward()
    close(penalty, a["out/r1"])
    grads_match(D, a, "out/r1_grad")
