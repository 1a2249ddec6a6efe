"""Reference parity: every fixture in tests/fixtures/parity/ (written by bench/parity/<family>.py from the
reference code itself) is loaded into our class and must give the reference's outputs and gradients.

A fixture's `meta` names our class (`target`, `kwargs`), the `kind` of comparison, the mode the nets run in,
and the tolerance with its reason; the README's "Verified against" table lists them.
"""
from __future__ import annotations

import importlib
import json
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

FIXTURES = Path(__file__).parent / "fixtures" / "parity"
PATHS = sorted(FIXTURES.glob("*.npz"))


def load(path: Path) -> tuple[dict, dict[str, dict[str, Tensor]]]:
    """meta and the groups w/, in/, out/ of a fixture."""
    with np.load(path) as data:
        assert "meta" in data.files, f"{path.name} has no meta; a fixture read by its own test goes in families/"
        meta = json.loads(str(data["meta"]))
        groups: dict[str, dict[str, Tensor]] = {"w": {}, "in": {}, "out": {}}
        for key in data.files:
            if key != "meta":
                group, name = key.split("/", 1)
                groups[group][name] = torch.from_numpy(data[key].copy())
    return meta, groups


def build(meta: dict) -> nn.Module:
    module, name = meta["target"].rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**meta.get("kwargs", {}))


class Probe(nn.Module):
    """A small plain-torch D for the penalty fixtures: layers from a spec, logits [N]; labels ignored."""

    def __init__(self, spec: list[list]) -> None:
        super().__init__()
        make = {"conv": lambda a: nn.Conv2d(*a), "linear": lambda a: nn.Linear(*a), "tanh": lambda a: nn.Tanh(),
                "lrelu": lambda a: nn.LeakyReLU(*a), "flatten": lambda a: nn.Flatten(), "softplus": lambda a: nn.Softplus()}
        self.net = nn.Sequential(*[make[kind](args) for kind, *args in spec])

    def forward(self, x: Tensor, c: Tensor | None = None) -> Tensor:
        return self.net(x).flatten()


@contextmanager
def replayed_rand(draws: list[Tensor]):
    """torch.rand / torch.rand_like return the reference's recorded draws, matched by element count."""
    real_rand, real_rand_like = torch.rand, torch.rand_like
    by_size = {int(d.numel()): d for d in draws}

    def fake(*size, **kwargs):
        shape = size[0] if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)) else size
        return by_size[int(np.prod(shape))].reshape(shape).to(kwargs.get("dtype") or torch.float32)

    torch.rand = fake
    torch.rand_like = lambda t, **kwargs: fake(*t.shape, dtype=t.dtype)
    try:
        yield
    finally:
        torch.rand, torch.rand_like = real_rand, real_rand_like


def set_mode(net: nn.Module, mode: str) -> nn.Module:
    """"train", "eval", or "batch_stats": BatchNorm on batch statistics, spectral norm from its stored (u, v)
    without a power step (the only form in which torch's old SN hook and our parametrization agree exactly)."""
    net.train(mode != "eval")
    if mode == "batch_stats":
        for module in net.modules():
            if type(module).__name__ == "_SpectralNorm":
                module.eval()
    return net


def _net(meta: dict, w: dict, x: dict) -> dict[str, Tensor]:
    net = build(meta)
    net.load_state_dict(w, strict=True)
    set_mode(net, meta["mode"])
    c = x.get("c")
    if meta["role"] == "generator":
        with torch.no_grad():
            return {"y": net(x["z"], c)}
    image = x["x"].clone().requires_grad_(True)
    logits = net(image, c)
    (grad,) = torch.autograd.grad(logits.sum(), image)
    return {"y": logits.detach(), "grad_x": grad}


def _loss(meta: dict, w: dict, x: dict) -> dict[str, Tensor]:
    loss = build(meta)
    real, fake = x["real"].clone().requires_grad_(True), x["fake"].clone().requires_grad_(True)
    d = loss.d(real, fake)
    d_real, d_fake = torch.autograd.grad(d, (real, fake))
    out = {"d": d.detach(), "d_grad_real": d_real, "d_grad_fake": d_fake}
    g = loss.g(fake, real if loss.uses_real_in_g else None)
    g_fake, g_real = torch.autograd.grad(g, (fake, real), allow_unused=True)
    out |= {"g": g.detach(), "g_grad_fake": g_fake}
    if loss.uses_real_in_g:
        out["g_grad_real"] = g_real
    return {k: v for k, v in out.items() if k in meta["outputs"]}


def _penalty(meta: dict, w: dict, x: dict) -> dict[str, Tensor]:
    regularizer, probe = build(meta), Probe(meta["probe"])
    probe.load_state_dict(w, strict=True)
    draws = [x[k] for k in sorted(x) if k.startswith("rand")]
    with replayed_rand(draws):
        if meta.get("on") == "generator":
            value = regularizer.generator_penalty(probe)
        else:
            value = regularizer(probe, x["real"], x["fake"], x.get("c"))
    grads = torch.autograd.grad(value, list(probe.parameters()), allow_unused=True)
    out = {f"grad/{n}": torch.zeros_like(p) if g is None else g for (n, p), g in zip(probe.named_parameters(), grads)}
    out["value"] = value.detach()
    return {k: v for k, v in out.items() if k in meta["outputs"]}


RUN = {"net": _net, "loss": _loss, "penalty": _penalty}


def compare(path: Path) -> list[tuple[str, float, float]]:
    """Assert our outputs match the fixture's; return (output, max abs error, tolerance) for each."""
    meta, groups = load(path)
    ours = RUN[meta["kind"]](meta, groups["w"], groups["in"])
    report = []
    for key, expected in groups["out"].items():
        atol, rtol = meta.get("atol", {}).get(key, 1e-5), meta.get("rtol", {}).get(key, 0.0)
        actual = ours[key].reshape(expected.shape)
        torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, msg=lambda m: f"{path.name} {key}: {m}")
        report.append((key, float((actual - expected).abs().max()), atol))
    return report


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_matches_reference(path: Path) -> None:
    meta, groups = load(path)
    assert meta["reference"] and meta["script"], "a fixture names its reference and the script that wrote it"
    assert set(groups["out"]) == set(meta["outputs"]), "every output the fixture promises is in it"
    compare(path)


# the fixtures behind the README's "Verified against" rows (other rows add theirs)
EXPECTED = {
    "nets": ["sngan32_g", "sngan32_g_nearest", "sngan32_d", "cgan_pd32_g", "cgan_pd32_d", "sagan32_g", "sagan32_d",
             "mimicry_dcgan32_g", "mimicry_dcgan32_d", "dcgan64_g", "dcgan64_d", "sndcgan32_g", "sndcgan32_d",
             "biggan32_g", "biggan32_d"],
    "losses": [f"loss_{name}" for name in (
        "ns_studiogan", "ns_studiogan_logistic", "ns_mimicry", "ns_biggan", "minimax_torch", "wgan_studiogan",
        "wgan_mimicry", "wgan_drift_ganzoo", "lsgan_studiogan", "hinge_studiogan", "hinge_mimicry", "hinge_biggan",
        "rsgan_relativistic", "ragan_relativistic", "ralsgan_relativistic", "rahinge_relativistic")],
    "penalties": [f"penalty_{name}" for name in (
        "gp_studiogan", "dragan_studiogan", "r1_studiogan", "r2_studiogan", "r1_stylegan2ada", "ortho_biggan")],
}


@pytest.mark.parametrize("group", sorted(EXPECTED))
def test_every_claimed_fixture_exists(group: str) -> None:
    names = {p.stem for p in PATHS}
    missing = sorted(set(EXPECTED[group]) - names)
    assert not missing, f"missing fixtures: {missing} (run the bench/parity script that writes them)"


def test_fixtures_are_small() -> None:
    assert all(p.stat().st_size < 2 * 1024 * 1024 for p in PATHS)
