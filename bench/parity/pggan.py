"""PGGAN parity fixture from facebookresearch/pytorch_GAN_zoo `models/networks/progressive_conv_net.py`
(GNet, DNet; with custom_layers.py and mini_batch_stddev_module.py; commit
b75dee40918caabb4fe7ec561522717bf096a8cb).

    python bench/parity/pggan.py --ref /path/to/pytorch_GAN_zoo

Builds the reference GNet and DNet (equalized LR, pixel norm, minibatch stddev) grown to 16x16 at widths
16, 16, 8 (4, 8, 16 px; our channel_base 128, max_channels 16), gives every parameter a random value, and
records G(z) and D(x) with the input gradient of sum(D(x)), stable and while the 16x16 block fades in.
Writes tests/fixtures/parity/pggan.npz for tests/test_parity_karras.py.

Reference setting versus ours, and how the name table below bridges it:
- alpha: the reference's alpha weighs the *old* (upsampled / pooled) path; ours weighs the new block, so our
  alpha a is the reference's 1 - a. Recorded at our alpha 0.3 (reference 0.7), 0.7 and 1 (stable);
- equalized LR: the reference multiplies the layer's *output* by sqrt(2 / fan_in), bias included, with gain
  sqrt(2) everywhere; ours scales the weight only, with gain sqrt(2)/4 for G's dense layer and 1 for toRGB and
  the last dense layer of D (the official code's gains): our weight = reference weight * sqrt(2) / gain, our
  bias = reference bias * sqrt(2 / fan_in);
- minibatch stddev: the reference takes the unbiased variance within a group (the official TF code and ours:
  biased), so our D is built with `mbstd_unbiased=True`; the batch of 4 is one group, so the reference's
  consecutive groups and the official code's strided groups (ours) coincide.
"""

from __future__ import annotations

import math

import torch
from karras_util import import_from, parse_ref, randomize, seed, write

Z, WIDTHS, N = 16, [16, 16, 8], 4  # widths at 4, 8, 16 px
ALPHAS = [0.3, 0.7, 1.0]  # ours; the reference's is 1 - alpha


def eq(layer, gain: float = math.sqrt(2)) -> dict[str, torch.Tensor]:
    """A reference ConstrainedLayer as our EqualizedConv2d / EqualizedLinear weight and bias."""
    weight, bias = layer.module.weight, layer.module.bias
    return {"weight": weight * math.sqrt(2) / gain, "bias": bias * layer.weight}


def table(prefix_map: dict[str, tuple]) -> dict[str, torch.Tensor]:
    return {f"{ours}.{k}": v for ours, (layer, *gain) in prefix_map.items() for k, v in eq(layer, *gain).items()}


def g_weights(G) -> dict[str, torch.Tensor]:
    layers = {"dense": (G.formatLayer, math.sqrt(2) / 4), "first.2": (G.groupScale0[0],)}
    for i, group in enumerate(G.scaleLayers):
        layers |= {f"blocks.{i}.1": (group[0],), f"blocks.{i}.4": (group[1],)}
    layers |= {f"to_rgb.{i}": (rgb, 1.0) for i, rgb in enumerate(G.toRGBLayers)}
    return table(layers)


def d_weights(D) -> dict[str, torch.Tensor]:
    layers = {f"from_rgb.{i}.0": (rgb,) for i, rgb in enumerate(D.fromRGBLayers)}
    for i, group in enumerate(D.scaleLayers):
        layers |= {f"blocks.{i}.0": (group[0],), f"blocks.{i}.2": (group[1],)}
    layers |= {"final.1": (D.groupScaleZero[0],), "final.4": (D.groupScaleZero[1],), "final.6": (D.decisionLayer, 1.0)}
    return table(layers)


def main() -> None:
    nets = import_from(parse_ref(__doc__), "models.networks.progressive_conv_net")
    seed(0)
    G = nets.GNet(Z, WIDTHS[0], dimOutput=3)
    D = nets.DNet(WIDTHS[0], miniBatchNormalization=True, dimInput=3)
    for width in WIDTHS[1:]:
        G.addScale(width)
        D.addScale(width)
    randomize(G)
    randomize(D, scale=1.0)  # the init scale of equalized LR: logits and gradients of order 1
    seed(1)
    z, x = torch.randn(N, Z), torch.randn(N, 3, 16, 16)
    outputs = {}
    for alpha in ALPHAS:
        G.setNewAlpha(1 - alpha)
        D.setNewAlpha(1 - alpha)
        with torch.no_grad():
            outputs[f"G/image@{alpha}"] = G(z)
        xg = x.clone().requires_grad_(True)
        logits = D(xg)
        (grad,) = torch.autograd.grad(logits.sum(), xg)
        outputs[f"D/logits@{alpha}"], outputs[f"D/grad@{alpha}"] = logits.flatten().detach(), grad
    common = dict(img_resolution=16, img_channels=3, channel_base=128, max_channels=16)
    ref = "facebookresearch/pytorch_GAN_zoo@b75dee40918caabb4fe7ec561522717bf096a8cb"
    inputs = {"z": z, "x": x, "alphas": torch.tensor(ALPHAS)}
    write("pggan_g", "gan_lightning.nets.pggan.Generator", dict(z_dim=Z, **common), g_weights(G), inputs,
          {k[2:]: v for k, v in outputs.items() if k.startswith("G/")}, reference=ref)
    write("pggan_d", "gan_lightning.nets.pggan.Discriminator", dict(common, mbstd_unbiased=True), d_weights(D),
          inputs, {k[2:]: v for k, v in outputs.items() if k.startswith("D/")}, reference=ref)


if __name__ == "__main__":
    main()
