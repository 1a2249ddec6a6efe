"""SNGAN-32 ResNet G and D against kwotsin/mimicry torch_mimicry/nets/sngan/sngan_32.py
(commit a7fda06c4aff1e6af8dc4c4a35ed6636e434c766).

    python bench/parity/sngan.py --ref /tmp/mimicry

writes tests/fixtures/parity/sngan32_g.npz (Mimicry's G as it is: bilinear upsampling, ours with
upsample=bilinear), sngan32_g_nearest.npz (Mimicry's G with nearest upsampling, the SNGAN Chainer code's and
our default) and sngan32_d.npz (eval mode after 3 warm-up steps: spectral norm from the stored (u, v);
Mimicry's in-place ReLU, which feeds ReLU(x) to its D's shortcuts, replaced by an out-of-place one).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from bench.parity import mimicry  # noqa: E402
from bench.parity.common import parse_ref  # noqa: E402

Z, WIDTH = 16, 16
SCRIPT = "bench/parity/sngan.py"


def main() -> None:
    ref = parse_ref(__doc__, "kwotsin/mimicry")
    module = mimicry.net_module(ref, "sngan", "sngan_32")
    g_kwargs = dict(z_dim=Z, img_resolution=32, img_channels=3, channels=WIDTH, max_channels=WIDTH)
    for name, upsample in (("sngan32_g", "bilinear"), ("sngan32_g_nearest", "nearest")):
        if upsample == "nearest":
            mimicry.nearest_upsampling(ref)
        torch.manual_seed(0)
        mimicry.generator_fixture(name, SCRIPT, "sngan/sngan_32.py SNGANGenerator32",
                                  module.SNGANGenerator32(nz=Z, ngf=WIDTH),
                                  "gan_lightning.nets.resnet.Generator", g_kwargs | {"upsample": upsample},
                                  mimicry.g_table(conditional=False), None, 0, "train",
                                  f"BatchNorm on batch statistics; {upsample} upsampling")
    torch.manual_seed(1)
    mimicry.discriminator_fixture("sngan32_d", SCRIPT, "sngan/sngan_32.py SNGANDiscriminator32",
                                  module.SNGANDiscriminator32(ndf=WIDTH),
                                  "gan_lightning.nets.resnet.Discriminator",
                                  dict(img_resolution=32, img_channels=3, channels=WIDTH, max_channels=WIDTH),
                                  mimicry.d_table(conditional=False), None, 0)


if __name__ == "__main__":
    main()
