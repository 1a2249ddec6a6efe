"""cGAN-PD (Miyato and Koyama 2018) at 32x32 against kwotsin/mimicry torch_mimicry/nets/cgan_pd/cgan_pd_32.py
(commit a7fda06c4aff1e6af8dc4c4a35ed6636e434c766): the class-conditional BN G and the projection D.

    python bench/parity/cgan_pd.py --ref /tmp/mimicry

writes tests/fixtures/parity/cgan_pd32_g.npz (Mimicry's G with nearest upsampling, the SNGAN Chainer code's;
its embedding (gamma, beta) mapped to ours (gamma - 1, beta)) and cgan_pd32_d.npz (the projection term
<SNEmbed(c), phi(x)>; eval mode after 3 warm-up power steps, Mimicry's in-place ReLU made out-of-place).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch  # noqa: E402

from bench.parity import mimicry  # noqa: E402
from bench.parity.common import parse_ref  # noqa: E402

Z, WIDTH, CLASSES = 16, 16, 5
SCRIPT = "bench/parity/cgan_pd.py"


def main() -> None:
    ref = parse_ref(__doc__, "kwotsin/mimicry")
    module = mimicry.net_module(ref, "cgan_pd", "cgan_pd_32")
    mimicry.nearest_upsampling(ref)
    torch.manual_seed(0)
    theirs = module.CGANPDGenerator32(num_classes=CLASSES, nz=Z, ngf=WIDTH)
    with torch.no_grad():  # Mimicry starts gamma at N(1, 0.02) and beta at 0: spread them so they matter
        for name, p in theirs.named_parameters():
            if name.endswith("embed.weight"):
                p.add_(0.3 * torch.randn_like(p))
    mimicry.generator_fixture("cgan_pd32_g", SCRIPT, "cgan_pd/cgan_pd_32.py CGANPDGenerator32", theirs,
                              "gan_lightning.nets.resnet.Generator",
                              dict(z_dim=Z, img_resolution=32, img_channels=3, c_dim=CLASSES, channels=WIDTH,
                                   max_channels=WIDTH),
                              mimicry.g_table(conditional=True), mimicry.cbn_extra, CLASSES, "train",
                              "BatchNorm on batch statistics; nearest upsampling; embeddings perturbed by N(0, 0.3)")
    torch.manual_seed(1)
    mimicry.discriminator_fixture("cgan_pd32_d", SCRIPT, "cgan_pd/cgan_pd_32.py CGANPDDiscriminator32",
                                  module.CGANPDDiscriminator32(num_classes=CLASSES, ndf=WIDTH),
                                  "gan_lightning.nets.resnet.Discriminator",
                                  dict(img_resolution=32, img_channels=3, c_dim=CLASSES, channels=WIDTH,
                                       max_channels=WIDTH),
                                  mimicry.d_table(conditional=True), None, CLASSES)


if __name__ == "__main__":
    main()
