"""The Mimicry side of the parity scripts (sngan, cgan_pd, dcgan, sagan): import its nets from a checkout of
kwotsin/mimicry and the name tables from its 32x32 nets (torch_mimicry/nets/*/*_32.py) to ours.

Reference: https://github.com/kwotsin/mimicry at a7fda06c4aff1e6af8dc4c4a35ed6636e434c766 (fetch it, e.g.
`git clone https://github.com/kwotsin/mimicry /tmp/mimicry`; nothing of it is vendored here).
"""

from __future__ import annotations

import types
from pathlib import Path

import torch
from torch.nn import functional as F

from bench.parity.common import import_package

COMMIT = "a7fda06c4aff1e6af8dc4c4a35ed6636e434c766"
REPOSITORY = "kwotsin/mimicry"


def net_module(ref: Path, family: str, name: str) -> types.ModuleType:
    """torch_mimicry.nets.<family>.<name>, imported without torch_mimicry/__init__.py (datasets, metrics)."""
    return import_package(ref, "torch_mimicry", f"nets.{family}.{name}")


def nearest_upsampling(ref: Path) -> None:
    """Swap the bilinear upsampling of Mimicry's GBlock for nearest, the SNGAN Chainer code's (and ours by
    default): the reference's F.interpolate calls get mode='nearest', nothing else changes."""
    resblocks = import_package(ref, "torch_mimicry", "modules.resblocks")
    patched = types.SimpleNamespace(**{k: getattr(F, k) for k in dir(F) if not k.startswith("__")})
    patched.interpolate = lambda x, scale_factor, mode, align_corners: F.interpolate(
        x, scale_factor=scale_factor, mode="nearest")
    resblocks.F = patched


def out_of_place_relu(net: torch.nn.Module) -> torch.nn.Module:
    """Give every block of a Mimicry D an out-of-place ReLU. Its DBlock runs `h = x; h = self.activation(h)`
    with nn.ReLU(inplace=True), so the shortcut, computed after, sees ReLU(x) instead of x (the defect
    BigGAN-PyTorch's DBlock warns of); the SNGAN Chainer code and ours add x. Parity found this."""
    for module in net.modules():
        if isinstance(getattr(module, "activation", None), torch.nn.ReLU):
            module.activation = torch.nn.ReLU()
    return net


def g_table(conditional: bool) -> list[tuple[str, str]]:
    """Our resnet.Generator at 32x32 (3 blocks) from Mimicry's *Generator32: l1, block2-4, b5, c5."""
    table = [("project", "l1"), ("out_norm.bn", "b5"), ("out", "c5")]
    for i in range(3):
        block = f"block{i + 2}"
        table += [(f"blocks.{i}.conv1", f"{block}.c1"), (f"blocks.{i}.conv2", f"{block}.c2"),
                  (f"blocks.{i}.shortcut", f"{block}.c_sc")]
        bn = ".bn" if conditional else ""  # Mimicry's ConditionalBatchNorm2d wraps an affine-free bn
        table += [(f"blocks.{i}.norm1.bn", f"{block}.b1{bn}"), (f"blocks.{i}.norm2.bn", f"{block}.b2{bn}")]
    return table


def cbn_extra(ref_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Mimicry's class embedding [K, 2C] holds (gamma, beta) with x_hat * gamma + beta; ours holds
    (gamma - 1, beta) with x_hat * (1 + gamma) + beta. Exact in float32 (gamma is near 1)."""
    extra = {}
    for i in range(3):
        for ours, theirs in (("norm1", "b1"), ("norm2", "b2")):
            weight = ref_state[f"block{i + 2}.{theirs}.embed.weight"]
            gamma, beta = weight.chunk(2, dim=1)
            extra[f"blocks.{i}.{ours}.modulation.gamma.weight"] = gamma - 1
            extra[f"blocks.{i}.{ours}.modulation.beta.weight"] = beta
    return extra


def d_table(conditional: bool) -> list[tuple[str, str]]:
    """Our resnet.Discriminator at 32x32 (bottom 8, 2 extra blocks) from Mimicry's *Discriminator32."""
    table = [("linear", "l5")] + ([("embed", "l_y")] if conditional else [])
    for i in range(4):
        block = f"block{i + 1}"
        table += [(f"blocks.{i}.conv1", f"{block}.c1"), (f"blocks.{i}.conv2", f"{block}.c2")]
        if i < 2:  # block3 and block4 keep the size and width: identity shortcuts
            table.append((f"blocks.{i}.shortcut", f"{block}.c_sc"))
    return table


def attention_table(ours: str, theirs: str) -> list[tuple[str, str]]:
    """Our SelfAttention(form='official') from Mimicry's (BigGAN's) SelfAttention: theta, phi, g, o."""
    return [(f"{ours}.query", f"{theirs}.theta"), (f"{ours}.key", f"{theirs}.phi"),
            (f"{ours}.value", f"{theirs}.g"), (f"{ours}.out", f"{theirs}.o")]


def meta(name: str, script: str, target: str, kwargs: dict, role: str, mode: str, note: str) -> dict:
    return {"kind": "net", "target": target, "kwargs": kwargs, "role": role, "mode": mode,
            "reference": f"{REPOSITORY}@{COMMIT} torch_mimicry/nets/{name}", "script": script, "note": note,
            "outputs": ["y"] if role == "generator" else ["y", "grad_x"]}


def generator_fixture(name: str, script: str, source: str, theirs: torch.nn.Module, ours_target: str,
                      kwargs: dict, table: list[tuple[str, str]], extra, c_dim: int, mode: str, note: str,
                      seed: int = 0) -> None:
    """Write the fixture of a Mimicry G: the reference's images from z (and labels) in `mode`."""
    from bench.parity.common import (
        check_ours,
        freeze_spectral,
        map_weights,
        save_fixture,
        warm_up,
    )
    from tests.test_parity import build

    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(4, kwargs["z_dim"], generator=generator)
    inputs = {"z": z} | ({"c": torch.randint(0, c_dim, (4,), generator=generator)} if c_dim else {})
    args = (z, inputs["c"]) if c_dim else (z,)
    if mode == "batch_stats":
        warm_up(theirs, *args)  # spectral-norm (u, v) off their random start
        freeze_spectral(theirs)
    else:
        theirs.train(mode == "train")
    meta_ = meta(source, script, ours_target, kwargs, "generator", mode, note)
    weights = map_weights(build(meta_), theirs.state_dict(), table, extra(theirs.state_dict()) if extra else None)
    with torch.no_grad():
        y = theirs(*args)
    save_fixture(name, meta_, weights, inputs, {"y": y})
    check_ours(name)


def discriminator_fixture(name: str, script: str, source: str, theirs: torch.nn.Module, ours_target: str,
                          kwargs: dict, table: list[tuple[str, str]], extra, c_dim: int, note: str = "",
                          seed: int = 1) -> None:
    """Write the fixture of a Mimicry D: logits and input-gradient in eval mode after warm-up power steps."""
    from bench.parity.common import (
        check_ours,
        d_outputs,
        map_weights,
        save_fixture,
        warm_up,
    )
    from tests.test_parity import build

    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(4, 3, 32, 32, generator=generator) * 2 - 1
    c = torch.randint(0, c_dim, (4,), generator=generator) if c_dim else None
    out_of_place_relu(theirs)
    warm_up(theirs, *((x, c) if c_dim else (x,)))
    theirs.eval()
    meta_ = meta(source, script, ours_target, kwargs, "discriminator", "eval",
                 "spectral norm from the stored (u, v) after 3 warm-up power steps; Mimicry's in-place ReLU "
                 "(its D's shortcuts see ReLU(x)) made out-of-place; logits (tens, sums over positions) also rtol "
                 "1e-6: float32 summation order differs between machines' BLAS (3.4e-7 relative seen)" + note)
    meta_["rtol"] = {"y": 1e-6}
    weights = map_weights(build(meta_), theirs.state_dict(), table, extra(theirs.state_dict()) if extra else None)
    inputs = {"x": x} | ({"c": c} if c_dim else {})
    save_fixture(name, meta_, weights, inputs, d_outputs(theirs, x, c))
    check_ours(name)
