"""StyleGAN G parity fixture from rosinality/style-based-gan-pytorch `model.py`
(commit 07fa60be77b093dd13a46597138df409ffc3b9bc).

    python bench/parity/stylegan.py --ref /path/to/style-based-gan-pytorch

Runs the reference's own StyledGenerator code: its mapping MLP (PixelNorm + 8 EqualLinear + LReLU) and its
Generator.forward over StyledConvBlocks built by the reference classes at a narrow width (8, 8, 4 channels at
4, 8, 16 px; the reference hard-codes 512, so the block lists are rebuilt with its own classes), with
explicit noise maps, style mixing with a fixed `mixing_range` and truncation (`mean_style`, `style_weight`).
Writes tests/fixtures/parity/stylegan.npz for tests/test_parity_karras.py.

Reference setting versus ours, and how the name table below bridges it:
- blur after each upsampling conv and a linear output: our `blur=True, output_tanh=False`;
- AdaIN: the reference adds 1 to the scale through the affine map's bias init; ours adds 1 in `adain`,
  so our style bias is the reference's minus [1]*C, [0]*C. The reference's InstanceNorm eps is set to 1e-8,
  the NVlabs StyleGAN value that ours uses (rosinality leaves PyTorch's 1e-5);
- equalized-LR gains: the reference scales every weight by sqrt(2 / fan_in) (noise scales too, with
  fan_in = C); ours uses gain 1 for the style maps and to_rgb, and lr multiplier 0.01 in the mapping MLP
  (stored weight = effective / (gain / sqrt(fan_in) * lr_mul)), so the weights are rescaled accordingly;
- the reference uses one noise map per block for both its layers; ours takes one per layer: the same map twice;
- the reference adds the conv bias before the blur (NVlabs: after); the upsampling convs' biases are set to
  0 here, where both orders agree.
Not covered: the reference's fused upsampling (at 128 px and up) and progressive growing (step, alpha).
"""

from __future__ import annotations

import math

import torch
from karras_util import load_file, parse_ref, randomize, seed, write

Z = 16  # z_dim = w_dim (the reference's code_dim)
WIDTHS = [8, 8, 4]  # at 4, 8, 16 px: our widths(channels=4, max_channels=8, 3)
LR_MUL = 0.01  # our mapping_lr_multiplier
N = 2


def build(ref):
    seed(0)
    G = ref.StyledGenerator.__new__(ref.StyledGenerator)  # its __init__ would build the 512-wide blocks
    torch.nn.Module.__init__(G)
    layers = [ref.PixelNorm()]
    for _ in range(8):
        layers += [ref.EqualLinear(Z, Z), torch.nn.LeakyReLU(0.2)]
    G.style = torch.nn.Sequential(*layers)
    G.generator = ref.Generator.__new__(ref.Generator)
    torch.nn.Module.__init__(G.generator)
    blocks = [ref.StyledConvBlock(WIDTHS[0], WIDTHS[0], 3, 1, style_dim=Z, initial=True)]
    blocks += [ref.StyledConvBlock(a, b, 3, 1, style_dim=Z, upsample=True) for a, b in zip(WIDTHS, WIDTHS[1:])]
    G.generator.progression = torch.nn.ModuleList(blocks)
    G.generator.to_rgb = torch.nn.ModuleList(ref.EqualConv2d(c, 3, 1) for c in WIDTHS)
    randomize(G)
    with torch.no_grad():
        for i, block in enumerate(blocks):
            for adain in (block.adain1, block.adain2):
                adain.norm.eps = 1e-8
                adain.style.linear.bias[: adain.style.linear.bias.shape[0] // 2] += 1  # around the init, 1
            if i:
                block.conv1[1].conv.bias.zero_()  # bias before the blur: see the docstring
    return G


def name_table(G) -> dict[str, torch.Tensor]:
    """Our state-dict names -> the reference's tensors, rescaled where the parametrizations differ."""
    root2 = math.sqrt(2)
    w = {}
    for i in range(8):
        linear = G.style[2 * i + 1].linear
        w[f"mapping.layers.{i}.weight"] = linear.weight_orig / LR_MUL
        w[f"mapping.layers.{i}.bias"] = linear.bias / LR_MUL
    w["const"] = G.generator.progression[0].conv1.input
    for b, block in enumerate(G.generator.progression):
        for k, (conv, noise, adain) in enumerate(((block.conv1, block.noise1, block.adain1),
                                                   (block.conv2, block.noise2, block.adain2))):
            ours = f"layers.{2 * b + k}"
            c = noise.weight_orig.shape[1]
            if k == 0 and b == 0:
                w[f"{ours}.bias"] = torch.zeros(c)  # the constant input has no bias
            else:
                eq = conv[1].conv if k == 0 else conv.conv
                w[f"{ours}.conv.weight"] = eq.weight_orig
                w[f"{ours}.bias"] = eq.bias
            w[f"{ours}.noise_strength"] = noise.weight_orig.flatten() * math.sqrt(2 / c)
            w[f"{ours}.style.weight"] = adain.style.linear.weight_orig * root2
            w[f"{ours}.style.bias"] = adain.style.linear.bias - torch.cat([torch.ones(c), torch.zeros(c)])
    w["to_rgb.weight"] = G.generator.to_rgb[-1].conv.weight_orig * root2
    w["to_rgb.bias"] = G.generator.to_rgb[-1].conv.bias
    return w


def main() -> None:
    ref = load_file(parse_ref(__doc__) / "model.py", "rosinality_stylegan")
    G = build(ref)
    seed(1)
    z1, z2 = torch.randn(N, Z), torch.randn(N, Z)
    noise = [torch.randn(N, 1, 4 * 2**i, 4 * 2**i) for i in range(len(WIDTHS))]
    w_avg = G.style(torch.randn(64, Z)).mean(0)
    step, cutoff_block = len(WIDTHS) - 1, 1
    with torch.no_grad():
        outputs = {
            "image": G(z1, noise=noise, step=step),
            # blocks cutoff_block.. take the second style: our layers 2 * cutoff_block..
            "image_mixed": G([z1, z2], noise=noise, step=step, mixing_range=(cutoff_block, step)),
            "image_truncated": G(z1, noise=noise, step=step, mean_style=w_avg[None], style_weight=0.7),
            "w": G.style(z1),
        }
    weights = name_table(G)
    weights["w_avg"] = w_avg
    kwargs = dict(z_dim=Z, img_resolution=16, img_channels=3, w_dim=Z, mapping_layers=8,
                  mapping_lr_multiplier=LR_MUL, channels=WIDTHS[-1], max_channels=max(WIDTHS),
                  blur=True, output_tanh=False)
    inputs = {"z1": z1, "z2": z2, "truncation": torch.tensor(0.7), "cutoff": torch.tensor(2 * cutoff_block)}
    inputs.update({f"noise{i}": n for i, n in enumerate(noise)})
    write("stylegan", "gan_lightning.nets.stylegan.Generator", kwargs, weights, inputs, outputs,
          reference="rosinality/style-based-gan-pytorch@07fa60be77b093dd13a46597138df409ffc3b9bc model.py")


if __name__ == "__main__":
    main()
