"""SAGAN at 32x32 against kwotsin/mimicry torch_mimicry/nets/sagan/sagan_32.py (commit
a7fda06c4aff1e6af8dc4c4a35ed6636e434c766): spectral norm in G and D, class-conditional BN, the projection D,
and the self-attention block of the official code (BigGAN's form: h at C/2, keys and values max-pooled),
which is ours with `attention_form=official`.

    python bench/parity/sagan.py --ref /tmp/mimicry

writes tests/fixtures/parity/sagan32_g.npz (attention after the 16x16 block, nearest upsampling as the SAGAN
code; BatchNorm on batch statistics, spectral norm frozen after 3 warm-up steps) and sagan32_d.npz (attention
after the 8x8 block; eval mode). The attention gates start at 0 in both codes; the script sets them to 0.5 and
0.7 so the attention path counts.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from bench.parity import mimicry  # noqa: E402
from bench.parity.common import parse_ref  # noqa: E402

Z, WIDTH, CLASSES = 16, 16, 5
SCRIPT = "bench/parity/sagan.py"


def gate_extra(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {"attention.1.gate": state["attn_block.gamma"]}


def with_gate(net: torch.nn.Module, value: float) -> torch.nn.Module:
    with torch.no_grad():
        net.attn_block.gamma.fill_(value)
    return net


def main() -> None:
    ref = parse_ref(__doc__, "kwotsin/mimicry")
    module = mimicry.net_module(ref, "sagan", "sagan_32")
    mimicry.nearest_upsampling(ref)
    torch.manual_seed(0)
    theirs = with_gate(module.SAGANGenerator32(num_classes=CLASSES, nz=Z, ngf=WIDTH), 0.5)
    mimicry.generator_fixture(
        "sagan32_g", SCRIPT, "sagan/sagan_32.py SAGANGenerator32", theirs, "gan_lightning.nets.sagan.Generator",
        dict(z_dim=Z, img_resolution=32, img_channels=3, c_dim=CLASSES, channels=WIDTH, max_channels=WIDTH,
             attention_resolution=16, attention_form="official"),
        mimicry.g_table(conditional=True) + mimicry.attention_table("attention.1", "attn_block"),
        lambda state: mimicry.cbn_extra(state) | gate_extra(state), CLASSES, "batch_stats",
        "BatchNorm on batch statistics, spectral norm frozen after 3 warm-up steps; nearest upsampling")
    torch.manual_seed(1)
    mimicry.discriminator_fixture(
        "sagan32_d", SCRIPT, "sagan/sagan_32.py SAGANDiscriminator32",
        with_gate(module.SAGANDiscriminator32(num_classes=CLASSES, ndf=WIDTH), 0.7),
        "gan_lightning.nets.sagan.Discriminator",
        dict(img_resolution=32, img_channels=3, c_dim=CLASSES, channels=WIDTH, max_channels=WIDTH,
             attention_resolution=8, attention_form="official"),
        mimicry.d_table(conditional=True) + mimicry.attention_table("attention.1", "attn_block"), gate_extra, CLASSES)


if __name__ == "__main__":
    main()
