"""SinGAN parity fixtures from tamarott/SinGAN `SinGAN/models.py` (GeneratorConcatSkip2CleanAdd and
WDiscriminator; commit 38fd0ad5f9942f44503c8d0d0f6af950de485ad9).

    python bench/parity/singan.py --ref /path/to/SinGAN

Builds the reference's G and D of one scale (5 conv layers, nfc = min_nfc = 8; our width 8) for each of the
two scales of a 25x33 -> 33x44 pyramid, gives every parameter a random value and runs them in training mode
on batches of one image, as SinGAN trains, in the official padding (`--padd_size 0`, and G's input
zero-padded by 5 px as SinGAN/training.py does with nn.ZeroPad2d) and in ours (`--padd_size 1`, no outer
padding). Records G(noise, prev) (scale 0: prev = 0 and one noise channel shared by the colours, as
training.py expands it; scale 1: amp * noise + prev) and D's score map, its mean (our logit; training.py
takes output.mean()) and the input gradient of that mean.
Writes tests/fixtures/parity/singan_{g,d}_{input,conv}.npz for tests/test_parity_karras.py.

Not covered: eval mode (the reference's BatchNorm then uses running statistics; ours, instance statistics)
and batches of more than one image (the reference's BatchNorm shares statistics across the batch).
"""

from __future__ import annotations

import types

import torch
import torch.nn.functional as F
from karras_util import load_file, parse_ref, randomize, seed, write

SIZES = [(25, 33), (33, 44)]  # our pyramid_sizes([33, 44], min_size=25, scale_factor=0.75)
WIDTH, AMP = 8, 0.3
PADDINGS = {"input": 0, "conv": 1}  # ours -> the reference's padd_size


def opt(padd_size: int) -> types.SimpleNamespace:
    return types.SimpleNamespace(nfc=WIDTH, min_nfc=WIDTH, nc_im=3, ker_size=3, padd_size=padd_size, num_layer=5)


def scale_net(net, k: int, tail) -> dict[str, torch.Tensor]:
    """One reference scale net as our nets.{k}: 4 conv blocks (conv, norm, LReLU), then the output conv."""
    w = {}
    for i, block in enumerate([net.head, *net.body]):
        for j, part in ((0, block.conv), (1, block.norm)):
            w[f"nets.{k}.{i}.{j}.weight"], w[f"nets.{k}.{i}.{j}.bias"] = part.weight, part.bias
    w[f"nets.{k}.4.weight"], w[f"nets.{k}.4.bias"] = tail.weight, tail.bias
    return w


def main() -> None:
    models = load_file(parse_ref(__doc__) / "SinGAN" / "models.py", "tamarott_singan_models")
    reference = "tamarott/SinGAN@38fd0ad5f9942f44503c8d0d0f6af950de485ad9"
    kwargs = dict(img_size=[33, 44], img_channels=3, min_size=25, scale_factor=0.75, width=WIDTH, max_width=WIDTH)
    for padding, padd_size in PADDINGS.items():
        pad = (lambda x: F.pad(x, [5] * 4)) if padd_size == 0 else (lambda x: x)
        seed(0)
        Gs = [models.GeneratorConcatSkip2CleanAdd(opt(padd_size)) for _ in SIZES]
        Ds = [models.WDiscriminator(opt(padd_size)) for _ in SIZES]
        g_w, d_w, g_out, d_out, inputs = {}, {}, {}, {}, {}
        for k, (G, D, (h, w)) in enumerate(zip(Gs, Ds, SIZES)):
            for net in (G, D):  # around the official init (convs N(0, 0.02), norm scales 1): a tanh not saturated
                randomize(net, scale=0.1)
                for m in net.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):
                        m.weight.data += 1
            G.train(), D.train()
            g_w |= scale_net(G, k, G.tail[0])
            d_w |= scale_net(D, k, D.tail)
            seed(1 + k)
            noise = torch.randn(1, 1 if k == 0 else 3, h, w)
            prev = torch.zeros(1, 3, h, w) if k == 0 else torch.rand(1, 3, h, w) * 2 - 1
            amp = 1.0 if k == 0 else AMP
            with torch.no_grad():
                g_out[f"fake{k}"] = G(pad(amp * noise.expand(1, 3, h, w) + prev), pad(prev))
            x = (torch.rand(1, 3, h, w) * 2 - 1).requires_grad_(True)
            score = D(x)
            (grad,) = torch.autograd.grad(score.mean(), x)
            d_out |= {f"map{k}": score.detach(), f"logit{k}": score.mean().detach()[None], f"grad{k}": grad}
            inputs |= {f"noise{k}": noise, f"prev{k}": prev, f"x{k}": x.detach()}
        g_w["amps"] = torch.tensor([1.0, AMP])
        g_w["z_rec"] = torch.zeros(1, 1, *SIZES[0])  # a buffer of ours the fixture does not use
        write(f"singan_g_{padding}", "gan_lightning.nets.singan.Generator", dict(kwargs, padding=padding), g_w,
              inputs, g_out, reference=reference, padd_size=padd_size)
        write(f"singan_d_{padding}", "gan_lightning.nets.singan.Discriminator", dict(kwargs, padding=padding), d_w,
              inputs, d_out, reference=reference, padd_size=padd_size)


if __name__ == "__main__":
    main()
