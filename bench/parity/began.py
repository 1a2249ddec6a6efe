"""BEGAN parity fixtures from carpedm20/BEGAN-pytorch `models.py` (GeneratorCNN, DiscriminatorCNN; commit
487d7fc1403772c307f2bb16f9fb637a038175c1), a PyTorch port of carpedm20/BEGAN-tensorflow (the paper has no
official code).

    python bench/parity/began.py --ref /path/to/BEGAN-pytorch

Builds the reference G and D at 32x32 (repeat_num 3, hidden_num 4, z_num 8; our channels 4, h_dim 8, z_dim 8),
gives every parameter a random value and records G(z), D's reconstruction AE(x), the per-image L1 error
mean |x - AE(x)| (trainer.py's l1 on one image: our D's output) and the input gradient of its sum.
Writes tests/fixtures/parity/began_{g,d}.npz for tests/test_parity_karras.py.

The reference's layout is ours with `output_elu=True` (an ELU on the last conv) and, in D's encoder,
`encoder_convs=2, encoder_widen=first` (one 3x3 conv per resolution before the stride-2 one, which keeps the
width; the next resolution's first conv widens). Our default (three convs per resolution, the stride-2 one
widening) follows the paper's Figure 1 and BEGAN-tensorflow's conv count.
"""

from __future__ import annotations

import torch
from karras_util import load_file, parse_ref, randomize, seed, write

Z, H, N_CH, REPEAT, N = 8, 8, 4, 3, 3  # z_dim, h_dim, channels, blocks (8, 16, 32 px), batch


def layers(prefix: str, seq: torch.nn.Sequential) -> dict[str, torch.Tensor]:
    """A reference Sequential as ours: the same layers in the same order, so the same indices."""
    return {f"{prefix}.{k}": v for k, v in seq.state_dict(keep_vars=True).items()}


def linear(prefix: str, fc: torch.nn.Linear) -> dict[str, torch.Tensor]:
    return {f"{prefix}.weight": fc.weight, f"{prefix}.bias": fc.bias}


def main() -> None:
    models = load_file(parse_ref(__doc__) / "models.py", "carpedm20_began_models")
    seed(0)
    G = models.GeneratorCNN(Z, [N_CH, 8, 8], 3, REPEAT, N_CH, num_gpu=0)
    D = models.DiscriminatorCNN(3, H, REPEAT, N_CH, num_gpu=0)
    randomize(G, scale=0.15)
    randomize(D, scale=0.15)
    seed(1)
    z, x = torch.randn(N, Z), torch.rand(N, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        fake = G(z)
    xg = x.clone().requires_grad_(True)
    recon = D(xg)
    error = (xg - recon).abs().flatten(1).mean(1)
    (grad,) = torch.autograd.grad(error.sum(), xg)
    reference = "carpedm20/BEGAN-pytorch@487d7fc1403772c307f2bb16f9fb637a038175c1"
    common = dict(img_resolution=32, img_channels=3, channels=N_CH, output_elu=True)
    write("began_g", "gan_lightning.nets.began.Generator", dict(common, z_dim=Z),
          linear("decoder.fc", G.fc) | layers("decoder.net", G.conv), {"z": z}, {"image": fake},
          reference=reference)
    d_weights = (layers("encoder.net", D.conv1) | linear("encoder.fc", D.fc1) | linear("decoder.fc", D.fc2)
                 | layers("decoder.net", D.conv2))
    write("began_d", "gan_lightning.nets.began.Discriminator",
          dict(common, h_dim=H, encoder_convs=2, encoder_widen="first"), d_weights, {"x": x},
          {"reconstruction": recon.detach(), "error": error.detach(), "grad": grad}, reference=reference)


if __name__ == "__main__":
    main()
