"""BigGAN at 32x32 against ajbrock/BigGAN-PyTorch BigGAN.py and layers.py
(commit 98459431a5d618d644d54cd1e9fceb1e5045648d).

    python bench/parity/biggan.py --ref /tmp/BigGAN-PyTorch

writes tests/fixtures/parity/biggan32_g.npz: G_arch[32] with the paper's G (hierarchical z, shared class
embedding, `G_shared=True, hier=True`; the CIFAR launch script uses neither), spectral norm everywhere,
ccbn gains 1 + W [shared, z_chunk], attention after the 16x16 block (`G_attn='16'`, ours with
attention_form=official; gate set to 0.5 so it counts); BatchNorm on batch statistics, spectral norm from
(u, v) one power step from BigGAN's stored u0 (what BigGAN computes at every call);
and biggan32_d.npz: D_arch[32] (4 * ch wide, down to 8x8, two blocks without pooling) with the projection
term, without attention (D_arch[32] labels every block "16", so D_attn='16' would add one after each block;
the CIFAR script runs D_attn=0). G receives G.shared(c), as BigGAN's G_D wrapper passes it.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from bench.parity.common import (  # noqa: E402
    check_ours,
    d_outputs,
    import_file,
    map_weights,
    parse_ref,
    save_fixture,
    warm_up,
)
from tests.test_parity import build  # noqa: E402

CH, Z, SHARED, CLASSES, N = 4, 16, 8, 5, 4
WIDTH = 4 * CH  # G_arch[32] and D_arch[32]: 4 * ch throughout
SCRIPT = "bench/parity/biggan.py"
REFERENCE = "ajbrock/BigGAN-PyTorch@98459431a5d618d644d54cd1e9fceb1e5045648d BigGAN.py, layers.py"


def g_table() -> list[tuple[str, str]]:
    table = [("shared", "shared"), ("project", "linear"), ("out_norm.bn", "output_layer.0"), ("out", "output_layer.2")]
    for i in range(3):
        ref = f"blocks.{i}.0"
        table += [(f"blocks.{i}.conv1", f"{ref}.conv1"), (f"blocks.{i}.conv2", f"{ref}.conv2"),
                  (f"blocks.{i}.shortcut", f"{ref}.conv_sc")]
        for norm in ("norm1", "norm2"):
            bn = "bn1" if norm == "norm1" else "bn2"
            table += [(f"blocks.{i}.{norm}.bn", f"{ref}.{bn}"),
                      (f"blocks.{i}.{norm}.modulation.gamma", f"{ref}.{bn}.gain"),
                      (f"blocks.{i}.{norm}.modulation.beta", f"{ref}.{bn}.bias")]
    table += [("attention.1.query", "blocks.1.1.theta"), ("attention.1.key", "blocks.1.1.phi"),
              ("attention.1.value", "blocks.1.1.g"), ("attention.1.out", "blocks.1.1.o")]
    return table


def d_table() -> list[tuple[str, str]]:
    table = [("linear", "linear"), ("embed", "embed")]
    for i in range(4):
        table += [(f"blocks.{i}.conv1", f"blocks.{i}.0.conv1"), (f"blocks.{i}.conv2", f"blocks.{i}.0.conv2")]
        if i < 2:
            table.append((f"blocks.{i}.shortcut", f"blocks.{i}.0.conv_sc"))
    return table


def meta(role: str, kwargs: dict, mode: str, note: str) -> dict:
    target = "gan_lightning.nets.biggan.Generator" if role == "generator" else "gan_lightning.nets.resnet.Discriminator"
    return {"kind": "net", "target": target, "kwargs": kwargs, "role": role, "mode": mode, "reference": REFERENCE,
            "script": SCRIPT, "note": note, "outputs": ["y"] if role == "generator" else ["y", "grad_x"]}


def main() -> None:
    biggan = import_file(parse_ref(__doc__, "ajbrock/BigGAN-PyTorch"), "BigGAN")
    generator = torch.Generator().manual_seed(0)
    z, c = torch.randn(N, Z, generator=generator), torch.randint(0, CLASSES, (N,), generator=generator)
    x = torch.rand(N, 3, 32, 32, generator=generator) * 2 - 1

    torch.manual_seed(0)
    theirs = biggan.Generator(G_ch=CH, dim_z=Z, resolution=32, G_attn="16", n_classes=CLASSES, G_shared=True,
                              shared_dim=SHARED, hier=True, no_optim=True)
    with torch.no_grad():
        theirs.blocks[1][1].gamma.fill_(0.5)
    warm_up(theirs, z, theirs.shared(c))  # BatchNorm running statistics and u0 off their start
    kwargs = dict(z_dim=Z, img_resolution=32, img_channels=3, c_dim=CLASSES, channels=WIDTH, max_channels=WIDTH,
                  shared_dim=SHARED, attention_resolution=16, attention_form="official")
    m = meta("generator", kwargs, "batch_stats", "BatchNorm on batch statistics; SN (u, v) one step from u0")
    state = theirs.state_dict()
    weights = map_weights(build(m), state, g_table(), {"attention.1.gate": state["blocks.1.1.gamma"]})
    theirs.train()
    with torch.no_grad():
        y = theirs(z, theirs.shared(c))
    save_fixture("biggan32_g", m, weights, {"z": z, "c": c}, {"y": y})
    check_ours("biggan32_g")

    torch.manual_seed(1)
    theirs = biggan.Discriminator(D_ch=CH, resolution=32, D_attn="0", n_classes=CLASSES)
    warm_up(theirs, x, c)  # u0 towards the top singular vector: sigma is not underestimated
    theirs.eval()  # BigGAN's SN still takes its power step from u0, without storing it
    kwargs = dict(img_resolution=32, img_channels=3, c_dim=CLASSES, channels=WIDTH, max_channels=WIDTH,
                  bottom_resolution=8, extra_blocks=2)
    m = meta("discriminator", kwargs, "eval", "SN (u, v) one power step from BigGAN's stored u0; logits of about 50 "
             "(sum pooling of 64 positions): rtol 1e-6 on them, for float32 rounding of sigma = u^T W v, which "
             "BigGAN computes as v W^T u^T (measured 1.5e-7 relative)")
    m["rtol"] = {"y": 1e-6}
    weights = map_weights(build(m), theirs.state_dict(), d_table())
    save_fixture("biggan32_d", m, weights, {"x": x, "c": c}, d_outputs(theirs, x, c))
    check_ours("biggan32_d")


if __name__ == "__main__":
    main()
