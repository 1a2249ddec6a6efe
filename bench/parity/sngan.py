"""SNGAN-32 ResNet G and D against kwotsin/mimicry torch_mimicry/nets/sngan/sngan_32.py
(commit a7fda06c4aff1e6af8dc4c4a35ed6636e434c766).

    python bench/parity/sngan.py --ref /tmp/mimicry

writes tests/fixtures/parity/sngan32_g.npz (Mimicry's G as it is: bilinear upsampling, ours with
upsample=bilinear), sngan32_g_nearest.npz (Mimicry's G with nearest upsampling, the SNGAN Chainer code's and
our default) and sngan32_d.npz (eval mode after 3 warm-up steps: spectral norm from the stored (u, v);
Mimicry's in-place ReLU, which feeds ReLU(x) to its D's shortcuts, replaced by an out-of-place one).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from bench.parity import mimicry  # noqa: E402
from bench.parity.common import (  # noqa: E402
    check_ours,
    d_outputs,
    map_weights,
    save_fixture,
    warm_up,
)
from gan_lightning.nets import resnet  # noqa: E402

Z, WIDTH, N = 16, 16, 4
SCRIPT = "bench/parity/sngan.py"


def generator(ref: Path, name: str, upsample: str) -> None:
    torch.manual_seed(0)
    module = mimicry.net_module(ref, "sngan", "sngan_32")
    theirs = module.SNGANGenerator32(nz=Z, ngf=WIDTH).train()
    kwargs = dict(z_dim=Z, img_resolution=32, img_channels=3, channels=WIDTH, max_channels=WIDTH, upsample=upsample)
    ours = resnet.Generator(**kwargs)
    weights = map_weights(ours, theirs.state_dict(), mimicry.g_table(conditional=False))
    z = torch.randn(N, Z)
    with torch.no_grad():
        y = theirs(z)
    meta = mimicry.meta("sngan/sngan_32.py SNGANGenerator32", SCRIPT, "gan_lightning.nets.resnet.Generator", kwargs,
                        "generator", "train", f"BatchNorm on batch statistics; upsample={upsample}")
    save_fixture(name, meta, weights, {"z": z}, {"y": y})
    check_ours(name)


def discriminator(ref: Path) -> None:
    torch.manual_seed(1)
    module = mimicry.net_module(ref, "sngan", "sngan_32")
    theirs = mimicry.out_of_place_relu(module.SNGANDiscriminator32(ndf=WIDTH))
    kwargs = dict(img_resolution=32, img_channels=3, channels=WIDTH, max_channels=WIDTH)
    ours = resnet.Discriminator(**kwargs)
    x = torch.rand(N, 3, 32, 32) * 2 - 1
    warm_up(theirs, x)
    theirs.eval()
    weights = map_weights(ours, theirs.state_dict(), mimicry.d_table(conditional=False))
    out = d_outputs(theirs, x, None)
    meta = mimicry.meta("sngan/sngan_32.py SNGANDiscriminator32", SCRIPT, "gan_lightning.nets.resnet.Discriminator",
                        kwargs, "discriminator", "eval", "spectral norm from the stored (u, v) after 3 warm-up power steps")
    save_fixture("sngan32_d", meta, weights, {"x": x}, out)
    check_ours("sngan32_d")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", type=Path, required=True, help="a checkout of kwotsin/mimicry")
    ref = parser.parse_args().ref
    generator(ref, "sngan32_g", "bilinear")
    discriminator(ref)
    mimicry.nearest_upsampling(ref)
    generator(ref, "sngan32_g_nearest", "nearest")


if __name__ == "__main__":
    main()
