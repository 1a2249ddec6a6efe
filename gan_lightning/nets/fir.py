"""FIR-filtered resampling of StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of
StyleGAN", appendix B; Zhang 2019, "Making Convolutional Networks Shift-Invariant Again"), in plain PyTorch.

The separable [1, 3, 3, 1] low-pass filter (normalized to sum 1 per axis) is applied after zero-insertion
upsampling and before decimation; the operation is stylegan2-ada-pytorch's `upfirdn2d` (whose pure-PyTorch
`impl='ref'` is the oracle of tests/test_parity_stylegan2.py). Padding is zero padding, as there. The filter
runs as a weighted sum of shifted slices, one axis at a time: on a CPU this is faster than a depthwise conv,
forwards and backwards (R1 and path length differentiate through it twice).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor

FIR_TAPS = (1.0, 3.0, 3.0, 1.0)


def _filter_axis(x: Tensor, taps: Sequence[float], axis: int, down: int) -> Tensor:
    """The valid part of the convolution of x with `taps` along `axis`, every `down`-th sample."""
    size = x.shape[axis] - len(taps) + 1
    index = [slice(None)] * x.dim()
    out = None
    for i, tap in enumerate(reversed(taps)):  # reversed: a convolution, not a correlation
        index[axis] = slice(i, i + size, down)
        term = x[tuple(index)] * tap
        out = term if out is None else out + term
    return out


def upfirdn2d(x: Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0), gain: float = 1.0,
              taps: Sequence[float] = FIR_TAPS) -> Tensor:
    """Upsample by inserting up - 1 zeros after each pixel, zero-pad (before, after) on both axes, convolve
    with the separable filter `taps` (normalized; times `gain` overall), keep every `down`-th pixel. [N, C, H, W]"""
    n, c, h, w = x.shape
    if up > 1:  # each pixel followed by up - 1 zeros, along both axes
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[0], pad[1]])
    norm = gain**0.5 / sum(taps)  # per axis
    taps = [t * norm for t in taps]
    return _filter_axis(_filter_axis(x, taps, 2, down), taps, 3, down)


def upsample2d(x: Tensor, up: int = 2) -> Tensor:
    """Zero-insertion upsampling then the filter, gain up^2 (so the mean is kept). [N, C, H, W] -> [N, C, H*up, W*up]"""
    k = len(FIR_TAPS)
    return upfirdn2d(x, up=up, pad=((k + up - 1) // 2, (k - up) // 2), gain=up**2)


def downsample2d(x: Tensor, down: int = 2) -> Tensor:
    """The filter then decimation. [N, C, H, W] -> [N, C, H/down, W/down]"""
    k = len(FIR_TAPS)
    return upfirdn2d(x, down=down, pad=((k - down + 1) // 2, (k - down) // 2))


def conv2d_down(x: Tensor, weight: Tensor, padding: int) -> Tensor:
    """conv(filter(x)) with stride 2: the filter's padding and the conv's `padding` applied once, before."""
    if weight.shape[-1] == 1:  # a 1x1 conv commutes with the filter: filter and decimate first (cheaper)
        return F.conv2d(downsample2d(x), weight)
    k = len(FIR_TAPS)
    return F.conv2d(upfirdn2d(x, pad=(padding + (k - 1) // 2, padding + (k - 2) // 2)), weight, stride=2)


def conv_transpose2d_up(x: Tensor, weight: Tensor) -> Tensor:
    """A k x k conv (padding k // 2) of x upsampled x2, as a stride-2 transposed conv, then the filter (gain 4).

    weight [O, I, k, k]; [N, I, H, W] -> [N, O, 2H, 2W].
    """
    kw, k = weight.shape[-1], len(FIR_TAPS)
    x = F.conv_transpose2d(x, weight.transpose(0, 1), stride=2)  # [N, O, 2H + kw - 2, 2W + kw - 2]
    # the filter's padding for x2 upsampling plus the conv's, less what the transposed conv already added
    pad = ((k + 1) // 2 + kw // 2 - (kw - 1), (k - 2) // 2 + kw // 2 - (kw - 2))
    return upfirdn2d(x, pad=pad, gain=4)
