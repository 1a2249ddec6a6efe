"""StyleGAN2: Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN" (CVPR,
arXiv:1912.04958), as stylegan2-ada-pytorch `training/networks.py` builds it (Karras et al. 2020, "Training
Generative Adversarial Networks with Limited Data").

G: mapping net (z 2nd-moment normalized, `mapping_layers` equalized FC layers with lr multiplier 0.01; labels
as an embedding of one-hot c, normalized and concatenated), a learned 4x4 constant, per resolution two 3x3
modulated convs with weight demodulation (sec. 2.2, eq. 1-3; the first upsamples x2 with the [1,3,3,1] FIR
filter), per-pixel noise times a learned scalar strength, bias and leaky ReLU 0.2 with gain sqrt(2); the
skip architecture (Fig. 7b): a 1x1 modulated toRGB (no demodulation) at every resolution, the running image
FIR-upsampled and summed. Style mixing (probability `mixing_prob`, a random cut-off between the w's) in
training, truncation toward the tracked mean w at sampling. Equalized learning rate everywhere.
The output: the reference's G is linear (`output_tanh=False`, the class default and experiment=stylegan2_cifar10's);
conf/arch/stylegan2.yaml adds a tanh (`output_tanh: true`), as arch=stylegan does, so that G returns images
in [-1, 1] like every net of this project. On MNIST, whose pixels sit at exactly -1 and 1, the linear output
collapsed to 1-5 classes (bench/RESULTS.md, "The shared cause"); previews and metrics clamp either way.
D: StyleGAN2's residual D, nets/residual_d.py. Path length regularization: objectives/path_length.py.
Noise: `noise_mode` 'random' (training), 'const' (the fixed buffers drawn at construction) or 'none'.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_lightning.errors import check_choice, check_number, check_power_of_two
from gan_lightning.nets.checks import check_c_dim, check_labels, check_sizes
from gan_lightning.nets.fir import conv_transpose2d_up, upsample2d
from gan_lightning.nets.residual_d import Discriminator, stylegan2_widths
from gan_lightning.nets.stylegan import layer_styles
from gan_lightning.nets.stylegan2_layers import FullyConnected, MappingNetwork, bias_act

NOISE_MODES = ("random", "const", "none")


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True, up: bool = False) -> Tensor:
    """StyleGAN2's modulated conv (eq. 1-3) with 'same' padding: input channels scaled by styles [N, I], the
    shared weight [O, I, k, k], each output channel divided by the norm of its modulated weight (demodulate).

    Scaling the activations before and after one conv equals the per-sample weights of the paper (the
    reference's fused_modconv=False path). `up`: x2 upsampling with the FIR filter. [N, I, H, W] -> [N, O, H', W']
    """
    x = x * styles[:, :, None, None].to(x.dtype)
    if up:
        x = conv_transpose2d_up(x, weight)
    else:
        x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
    if demodulate:  # sum over (i, kh, kw) of (w_oi s_i)^2 = s^2 . sum_k w_oik^2
        dcoefs = (styles.square() @ weight.square().sum(dim=(2, 3)).T + 1e-8).rsqrt()  # [N, O]
        x = x * dcoefs[:, :, None, None].to(x.dtype)
    return x


class SynthesisLayer(nn.Module):
    """Affine style from w, modulated 3x3 conv (optionally upsampling), noise, bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.up, self.resolution, self.conv_clamp = up, resolution, conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)  # styles start at 1
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))  # noise_mode='const'
        self.noise_strength = nn.Parameter(torch.zeros(()))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random") -> Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w), up=self.up)
        if noise_mode == "random":  # one map for all channels
            x = x + torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device) * self.noise_strength
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return bias_act(x, self.bias, "lrelu", clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """A 1x1 modulated conv without demodulation to the image channels, plus bias."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (the 4x4 constant, or an upsampling layer), a layer, toRGB added to the upsampled image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 conv_clamp: float | None = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.const = nn.Parameter(torch.randn(out_channels, resolution, resolution)) if in_channels == 0 else None
        self.conv0 = (SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, conv_clamp=conv_clamp)
                      if in_channels else None)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_conv = 2 if in_channels else 1

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor, noise_mode: str = "random"):
        """ws [N, num_conv + 1, w_dim]: the layers' styles, the last toRGB's (shared with the next block)."""
        if self.conv0 is None:
            x = self.const[None].expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
        x = self.conv1(x, ws[:, self.num_conv - 1], noise_mode)
        y = self.torgb(x, ws[:, self.num_conv])
        return x, y if img is None else upsample2d(img) + y


class Generator(nn.Module):
    """StyleGAN2's generator: mapping, synthesis (skip architecture), style mixing and truncation."""

    def __init__(
        self,
        z_dim: int,
        img_resolution: int,
        img_channels: int,
        c_dim: int = 0,
        w_dim: int = 512,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        channel_base: int = 16384,
        max_channels: int = 512,
        mixing_prob: float = 0.9,
        w_avg_beta: float = 0.995,
        conv_clamp: float | None = None,
        output_tanh: bool = False,
    ) -> None:
        super().__init__()
        log2 = check_power_of_two("arch.generator.img_resolution", img_resolution, 8)
        check_number("arch.generator.mixing_prob", mixing_prob, 0, 1)
        check_number("arch.generator.mapping_lr_multiplier", mapping_lr_multiplier, 0, above=True)
        check_number("arch.generator.w_avg_beta", w_avg_beta, 0, 1)
        check_number("arch.generator.conv_clamp", conv_clamp, 0, above=True, nullable=True)
        check_sizes("generator", w_dim=w_dim, mapping_layers=mapping_layers, channel_base=channel_base,
                    max_channels=max_channels)
        self.z_dim, self.c_dim = z_dim, check_c_dim("generator", c_dim)
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.mixing_prob, self.output_tanh = mixing_prob, output_tanh
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, mapping_layers, mapping_lr_multiplier, w_avg_beta)
        resolutions = [2**i for i in range(2, log2 + 1)]  # 4, 8, ..., R
        ch = stylegan2_widths(channel_base, max_channels, resolutions)
        check_sizes("generator", channel_base=min(ch.values()))  # every width >= 1
        self.blocks = nn.ModuleList(
            SynthesisBlock(ch[r // 2] if r > 4 else 0, ch[r], w_dim, r, img_channels, conv_clamp) for r in resolutions)
        self.num_ws = sum(block.num_conv for block in self.blocks) + 1  # 2 log2(R) - 2

    def styles(self, z: Tensor, c: Tensor | None = None, truncation: float | None = None) -> Tensor:
        """The per-layer w's [N, num_ws, w_dim]: mapped (w_avg tracked in training), mixed (training), truncated."""
        w = self.mapping(z, c)
        mix = self.training and self.mixing_prob > 0 and torch.rand(()) < self.mixing_prob
        return layer_styles(w, self.num_ws, self.mapping.w_avg, truncation,
                            (lambda: self.mapping(torch.randn_like(z), c, update_w_avg=False)) if mix else None)

    def synthesis(self, ws: Tensor, noise_mode: str = "random") -> Tensor:
        """Images [N, C, R, R] from ws [N, num_ws, w_dim]; block i reads its layers' w's and its toRGB's."""
        check_choice("noise_mode", noise_mode, NOISE_MODES)
        x = img = None
        i = 0
        for block in self.blocks:
            x, img = block(x, img, ws[:, i : i + block.num_conv + 1], noise_mode)
            i += block.num_conv
        return torch.tanh(img) if self.output_tanh else img

    def forward(self, z: Tensor, c: Tensor | None = None, truncation: float | None = None,
                noise_mode: str = "random") -> Tensor:
        """Map z [N, z_dim] (and labels c [N]) to images; `truncation` is psi toward w_avg (sampling only)."""
        check_labels(self.c_dim, c)
        return self.synthesis(self.styles(z, c, truncation), noise_mode)


__all__ = ["Generator", "Discriminator", "SynthesisBlock", "SynthesisLayer", "ToRGBLayer", "modulated_conv2d"]
