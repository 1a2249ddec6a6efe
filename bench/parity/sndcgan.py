"""SNDCGAN (the "standard CNN" of Miyato et al. 2018, Table 3) against POSTECH-CVLab/PyTorch-StudioGAN
src/models/deep_conv.py (commit 947b35e9835b67860fdce44d337f6d7fee7c8db3), the only runnable PyTorch copy of
Table 3 with its widths (Mimicry has no SNDCGAN; the SNGAN code is Chainer).

    python bench/parity/sndcgan.py --ref /tmp/PyTorch-StudioGAN

StudioGAN's deep_conv hard-codes the 32x32 widths (512 ... 64); the script makes it 8 times narrower through
what StudioGAN lets a caller choose, never by editing its file: the layer factories it receives in MODULES
(here: torch layers whose literal 256 and 512 channels become 32 and 64) and a subclass that scales the width
lists `in_dims` / `out_dims` as its constructor assigns them. MODULES is StudioGAN's SNGAN setting: spectral
norm and LeakyReLU(0.1) in D, BatchNorm and ReLU in G; its BatchNorm eps (1e-4) is given torch's and our 1e-5.
StudioGAN reads Table 3 in two places differently from the SNGAN code: no BatchNorm/ReLU after G's dense layer
and a sum-pooled D head, which are ours with `project_norm=false` and `head=sum`. Its deconvs carry a bias
that the following BatchNorm removes (ours have none); it is set to 0.
Writes tests/fixtures/parity/sndcgan32_g.npz (training mode: batch statistics) and sndcgan32_d.npz (eval
mode after 3 warm-up power steps).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from bench.parity.common import (  # noqa: E402
    check_ours,
    d_outputs,
    map_weights,
    parse_ref,
    save_fixture,
    warm_up,
)
from tests.test_parity import build  # noqa: E402

K, Z, N = 8, 16, 4
SCRIPT = "bench/parity/sndcgan.py"
REFERENCE = "POSTECH-CVLab/PyTorch-StudioGAN@947b35e9835b67860fdce44d337f6d7fee7c8db3 src/models/deep_conv.py"


def narrow(n: int) -> int:
    return n // K if n in (256, 512) else n  # the literal widths of deep_conv's last D conv and dense layer


def studiogan(root: Path) -> tuple[types.ModuleType, types.SimpleNamespace, types.SimpleNamespace]:
    sys.path.insert(0, str(root / "src"))
    misc = types.ModuleType("utils.misc")  # utils/misc.py imports torchvision, seaborn, ...; deep_conv needs one name
    misc.dummy_context_mgr = contextlib.nullcontext
    sys.modules["utils.misc"] = misc
    import models.deep_conv as deep_conv
    import utils.ops as ops

    def scaled(factory):
        def make(*args, **kwargs):
            for key in ("in_channels", "out_channels", "in_features", "out_features"):
                if key in kwargs:
                    kwargs[key] = narrow(kwargs[key])
            return factory(*args, **kwargs)
        return make

    modules = types.SimpleNamespace(
        g_linear=ops.linear, g_deconv2d=ops.deconv2d, g_conv2d=ops.conv2d,
        g_bn=functools.partial(ops.batchnorm_2d, eps=1e-5), g_act_fn=nn.ReLU(inplace=True),
        d_conv2d=scaled(ops.snconv2d), d_linear=scaled(ops.snlinear), d_embedding=ops.sn_embedding,
        d_bn=ops.batchnorm_2d, d_act_fn=nn.LeakyReLU(negative_slope=0.1, inplace=True))
    model = types.SimpleNamespace(info_type="N/A", g_info_injection="N/A")
    return deep_conv, modules, model


def narrow_class(cls: type) -> type:
    """deep_conv's class, with the width lists it assigns in its constructor divided by K."""
    def __setattr__(self, name, value):
        if name in ("in_dims", "out_dims"):
            value = [v if v == 3 else v // K for v in value]
        nn.Module.__setattr__(self, name, value)
    return type(f"Narrow{cls.__name__}", (cls,), {"__setattr__": __setattr__})


def main() -> None:
    deep_conv, modules, model = studiogan(parse_ref(__doc__, "POSTECH-CVLab/PyTorch-StudioGAN"))
    generator = torch.Generator().manual_seed(0)
    z, x = torch.randn(N, Z, generator=generator), torch.rand(N, 3, 32, 32, generator=generator) * 2 - 1
    label = torch.zeros(N, dtype=torch.long)
    common = {"kind": "net", "reference": REFERENCE, "script": SCRIPT}

    torch.manual_seed(0)
    theirs = narrow_class(deep_conv.Generator)(Z, "N/A", 32, "N/A", False, [], "W/O", 10, "N02", "N/A", False,
                                               modules, model).train()
    with torch.no_grad():
        for block in theirs.blocks:
            block[0].deconv0.bias.zero_()
    meta = common | {"target": "gan_lightning.nets.sndcgan.Generator", "role": "generator", "mode": "train",
                     "outputs": ["y"], "note": "BatchNorm on batch statistics",
                     "kwargs": dict(z_dim=Z, img_resolution=32, img_channels=3, channels=64 // K, project_norm=False)}
    table = [("project.0", "linear0"), ("net.3", "conv4")]
    table += [(f"net.{i}.{j}", f"blocks.{i}.0.{name}") for i in range(3) for j, name in ((0, "deconv0"), (1, "bn0"))]
    weights = map_weights(build(meta), theirs.state_dict(), table)
    with torch.no_grad():
        y = theirs(z, label)
    save_fixture("sndcgan32_g", meta, weights, {"z": z}, {"y": y})
    check_ours("sndcgan32_g")

    torch.manual_seed(1)
    theirs = narrow_class(deep_conv.Discriminator)(32, "N/A", True, False, [], "W/O", "W/O", "N/A", False, 10, "N02",
                                                   "N/A", False, modules, model)

    class Logits(nn.Module):  # StudioGAN's D returns a dict
        def __init__(self):
            super().__init__()
            self.d = theirs

        def forward(self, images):
            return self.d(images, label)["adv_output"]

    logits = Logits()
    warm_up(logits, x)
    logits.eval()
    meta = common | {"target": "gan_lightning.nets.sndcgan.Discriminator", "role": "discriminator", "mode": "eval",
                     "outputs": ["y", "grad_x"], "note": "spectral norm from the stored (u, v) after 3 warm-up steps",
                     "kwargs": dict(img_resolution=32, img_channels=3, channels=64 // K, head="sum")}
    names = [f"blocks.{i}.0.conv{j}" for i in range(3) for j in (0, 1)] + ["conv1"]
    table = [(f"net.{i}.0", name) for i, name in enumerate(names)] + [("net.8", "linear1")]
    weights = map_weights(build(meta), theirs.state_dict(), table)
    save_fixture("sndcgan32_d", meta, weights, {"x": x}, d_outputs(logits, x, None))
    check_ours("sndcgan32_d")


if __name__ == "__main__":
    main()
