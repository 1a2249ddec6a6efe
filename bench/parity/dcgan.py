"""Mimicry's "DCGAN" at 32x32, kwotsin/mimicry torch_mimicry/nets/dcgan/dcgan_32.py (commit
a7fda06c4aff1e6af8dc4c4a35ed6636e434c766), against ours.

Mimicry's DCGAN is not Radford et al.'s net: it is the SNGAN ResNet without spectral norm (its docstrings:
"ResNet backbone generator for ResNet DCGAN"), trained with the non-saturating loss. So it checks our
`arch=resnet` with `arch.discriminator.normalization=none`; our `arch=dcgan` (Radford's strided convs) has no
Mimicry counterpart.

    python bench/parity/dcgan.py --ref /tmp/mimicry

writes tests/fixtures/parity/mimicry_dcgan32_g.npz (bilinear upsampling, as Mimicry) and
mimicry_dcgan32_d.npz (no normalization; Mimicry's in-place ReLU made out-of-place).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from bench.parity import mimicry  # noqa: E402

Z, WIDTH = 16, 16
SCRIPT = "bench/parity/dcgan.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", type=Path, required=True, help="a checkout of kwotsin/mimicry")
    ref = parser.parse_args().ref
    module = mimicry.net_module(ref, "dcgan", "dcgan_32")
    torch.manual_seed(0)
    mimicry.generator_fixture("mimicry_dcgan32_g", SCRIPT, "dcgan/dcgan_32.py DCGANGenerator32",
                              module.DCGANGenerator32(nz=Z, ngf=WIDTH), "gan_lightning.nets.resnet.Generator",
                              dict(z_dim=Z, img_resolution=32, img_channels=3, channels=WIDTH, max_channels=WIDTH,
                                   upsample="bilinear"),
                              mimicry.g_table(conditional=False), None, 0, "train",
                              "BatchNorm on batch statistics; bilinear upsampling")
    torch.manual_seed(1)
    mimicry.discriminator_fixture("mimicry_dcgan32_d", SCRIPT, "dcgan/dcgan_32.py DCGANDiscriminator32",
                                  module.DCGANDiscriminator32(ndf=WIDTH), "gan_lightning.nets.resnet.Discriminator",
                                  dict(img_resolution=32, img_channels=3, channels=WIDTH, max_channels=WIDTH,
                                       normalization="none"),
                                  mimicry.d_table(conditional=False), None, 0)


if __name__ == "__main__":
    main()
