"""StyleGAN2's residual D (arch=stylegan and arch=stylegan2) by hand: FIR resampling, minibatch stddev groups,
equalized LR and leaky ReLU layers, the sqrt(0.5) residual join. Reference parity: tests/test_parity_stylegan2.py."""
import math

import torch
from hydra.utils import instantiate
from torch import nn
from torch.testing import assert_close

from gan_lightning.nets import fir, residual_d
from gan_lightning.nets.eqlr import EqualizedConv2d, EqualizedLinear, MinibatchStddev
from gan_lightning.nets.stylegan2_layers import Conv2dLayer, FullyConnected
from gan_lightning.run.config import compose
from tests.conftest import ARCH_TINY


def test_fir_downsampling_of_ones_is_one_inside_and_seven_eighths_at_the_zero_padded_border():
    y = fir.downsample2d(torch.ones(1, 1, 8, 8))
    edge = torch.tensor([7 / 8, 1, 1, 7 / 8])  # (3 + 3 + 1) / 8 at the border: one tap falls on the padding
    assert_close(y[0, 0], torch.outer(edge, edge))


def test_fir_upsampling_of_an_impulse_is_the_filter_times_the_gain():
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 1, 1] = 1.0
    y = fir.upsample2d(x)[0, 0]  # the impulse lands at (2, 2); taps [1, 3, 3, 1] / 8 times 2 per axis
    row = torch.tensor([0, 0.25, 0.75, 0.75, 0.25, 0, 0, 0])
    assert_close(y, torch.outer(row, row))


def test_minibatch_stddev_with_two_channel_groups_by_hand():
    x = torch.tensor([[1.0, 2, 3, 4], [3, 2, 1, 0], [2, 2, 7, 4], [5, 8, 1, 0]])[:, :, None, None]  # [4, 4, 1, 1]
    y = MinibatchStddev(group_size=2, num_channels=2, eps=0.0)(x)
    # groups of samples {0, 2} and {1, 3} (sample i in group i % 2); std of a pair = |a - b| / 2
    s02 = [(0.5 + 0.0) / 2, (2.0 + 0.0) / 2]  # channels {0, 1}: |1-2|/2, |2-2|/2; {2, 3}: |3-7|/2, |4-4|/2
    s13 = [(1.0 + 3.0) / 2, (0.0 + 0.0) / 2]
    assert_close(y[:, 4:, 0, 0], torch.tensor([s02, s13, s02, s13]))
    assert_close(y[:, :4], x)


def test_stylegan_arch_has_stylegan2s_residual_d_with_equalized_lr_and_leaky_relu(tmp_path):
    cfg = compose(["arch=stylegan", *ARCH_TINY["stylegan"]], tmp_path)
    D = instantiate(cfg.arch.discriminator)
    assert isinstance(D, residual_d.Discriminator)
    layers = [m for m in D.modules() if isinstance(m, (nn.Conv2d, nn.Linear, EqualizedConv2d, EqualizedLinear))]
    assert layers and all(isinstance(m, (Conv2dLayer, FullyConnected)) for m in layers)  # no plain Xavier layers
    assert all(m.activation == "lrelu" for m in layers if isinstance(m, Conv2dLayer) and m.bias is not None)
    assert 0.9 < torch.cat([m.weight.flatten() for m in layers]).std() < 1.1  # stored N(0, 1), scaled at run time
    assert D.epilogue.mbstd.group_size == 4 and [b.skip is not None for b in D.blocks] == [True] * len(D.blocks)


def test_residual_block_is_sqrt_half_times_skip_plus_main():
    torch.manual_seed(0)
    block = residual_d.DiscriminatorBlock(4, 4, 6, img_channels=3)
    x = torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        skip = nn.functional.conv2d(fir.downsample2d(x), block.skip.weight / 2)  # 1 / sqrt(fan_in = 4)
        conv0 = nn.functional.leaky_relu(nn.functional.conv2d(x, block.conv0.weight / 6, padding=1) +
                                         block.conv0.bias[:, None, None], 0.2) * math.sqrt(2)
        main = nn.functional.conv2d(fir.upfirdn2d(conv0, pad=(2, 2)), block.conv1.weight / 6, stride=2)
        main = nn.functional.leaky_relu(main + block.conv1.bias[:, None, None], 0.2) * math.sqrt(2)
        assert_close(block(x, None), math.sqrt(0.5) * (skip + main))
