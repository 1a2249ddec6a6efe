"""Shared layers against hand-computed values: equalized learning rate, pixel norm, minibatch stddev."""
import math

import torch
import torch.nn.functional as F
from torch.testing import assert_close

from gan_lightning.nets.eqlr import (
    EqualizedConv2d,
    EqualizedLinear,
    MinibatchStddev,
    PixelNorm,
)


def test_equalized_linear_scales_unit_weights_by_he_constant():
    torch.manual_seed(0)
    layer = EqualizedLinear(8, 3, gain=math.sqrt(2))
    assert_close(layer.weight.std(), torch.tensor(1.0), atol=0.35, rtol=0)  # stored N(0, 1)
    x = torch.randn(5, 8)
    with torch.no_grad():
        layer.bias.fill_(0.5)
    expected = x @ (layer.weight * math.sqrt(2) / math.sqrt(8)).T + 0.5
    assert_close(layer(x), expected)


def test_equalized_linear_lr_multiplier_keeps_the_effective_init_and_scales_bias():
    torch.manual_seed(0)
    slow = EqualizedLinear(4, 2, lr_multiplier=0.01, bias_init=1.0)
    assert_close(slow.bias, torch.full((2,), 100.0))  # stored bias_init / lr_multiplier
    x = torch.randn(3, 4)
    effective = slow.weight * 0.01 * math.sqrt(2) / 2  # gain / sqrt(fan_in) * lr_multiplier
    assert_close(slow(x), x @ effective.T + 1.0)


def test_equalized_conv_matches_conv2d_with_scaled_weights():
    torch.manual_seed(0)
    conv = EqualizedConv2d(3, 4, 3, gain=1.0)
    x = torch.randn(2, 3, 5, 5)
    expected = F.conv2d(x, conv.weight / math.sqrt(3 * 9), conv.bias, padding=1)
    assert_close(conv(x), expected)
    assert conv(x).shape == (2, 4, 5, 5)


def test_pixel_norm_gives_unit_mean_square_over_channels():
    x = torch.tensor([[3.0, 4.0]]).reshape(1, 2, 1, 1)
    expected = x / math.sqrt((9 + 16) / 2)
    assert_close(PixelNorm(eps=0)(x), expected)
    y = PixelNorm()(torch.randn(4, 16, 3, 3))
    assert_close(y.square().mean(1), torch.ones(4, 3, 3), atol=1e-5, rtol=0)


def test_minibatch_stddev_by_hand():
    # 4 samples, 1 channel, 1x2 pixels; group size 2: samples (0, 2) and (1, 3) form the groups
    x = torch.tensor([0.0, 0.0, 1.0, 1.0, 2.0, 4.0, 5.0, 5.0]).reshape(4, 1, 1, 2)
    y = MinibatchStddev(group_size=2, eps=0.0)(x)
    assert y.shape == (4, 2, 1, 2)
    # group (0, 2): pixel stds |0-2|/2 = 1 and |0-4|/2 = 2 -> 1.5; group (1, 3): 2 and 2 -> 2
    expected = torch.tensor([1.5, 2.0, 1.5, 2.0]).reshape(4, 1, 1, 1).expand(4, 1, 1, 2)
    assert_close(y[:, 1:], expected)
    assert_close(y[:, :1], x)


def test_minibatch_stddev_uses_the_whole_batch_when_the_group_does_not_divide_it():
    x = torch.randn(3, 2, 2, 2)
    y = MinibatchStddev(group_size=4, eps=0.0)(x)
    expected = x.var(0, unbiased=False).sqrt().mean()
    assert_close(y[:, 2], expected.expand(3, 2, 2))
