"""The tensor math of ADA's augmentation (Karras et al. 2020, "Training Generative Adversarial Networks with
Limited Data", appendix B): homogeneous matrices per image, one geometric warp and one colour transform.

A geometric warp is one inverse affine matrix per image (output pixel -> input pixel). It is executed as in
the paper: reflect-pad enough to cover the warped image, upsample 2x with the orthogonal sym6 wavelet
low-pass filter, bilinear sampling, then downsample 2x with the same filter; so it is anti-aliased and
differentiable w.r.t. the image. A colour transform is one 4x4 matrix per image acting on (r, g, b, 1).
"""
import math

import torch
import torch.nn.functional as F
from torch import Tensor

# Daubechies symlet 6 low-pass filter (the paper's geometric filter), 12 taps.
SYM6 = (0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
        0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
        -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148)

LUMA = (1 / math.sqrt(3), 1 / math.sqrt(3), 1 / math.sqrt(3), 0.0)  # the luma axis in (r, g, b, 1) space


def matrix(rows: list[list], like: Tensor | None = None, device: torch.device | None = None) -> Tensor:
    """A [*like.shape, R, K] stack of matrices whose entries are numbers or tensors shaped like `like`;
    one [R, K] float32 matrix when `like` is None."""
    if like is None:
        return torch.tensor(rows, dtype=torch.float32, device=device)
    entries = [e if isinstance(e, Tensor) else torch.full_like(like, float(e)) for row in rows for e in row]
    return torch.stack(entries, dim=-1).reshape(*like.shape, len(rows), len(rows[0]))


def translate2d(tx: Tensor, ty: Tensor) -> Tensor:
    return matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], like=tx)


def scale2d(sx: Tensor, sy: Tensor) -> Tensor:
    return matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], like=sx)


def rotate2d(theta: Tensor) -> Tensor:
    return matrix([[torch.cos(theta), -torch.sin(theta), 0], [torch.sin(theta), torch.cos(theta), 0],
                   [0, 0, 1]], like=theta)


def translate3d(t: Tensor) -> Tensor:
    """The same shift `t` [N] of r, g and b."""
    return matrix([[1, 0, 0, t], [0, 1, 0, t], [0, 0, 1, t], [0, 0, 0, 1]], like=t)


def scale3d(s: Tensor) -> Tensor:
    """The same scale `s` [N] of r, g and b."""
    return matrix([[s, 0, 0, 0], [0, s, 0, 0], [0, 0, s, 0], [0, 0, 0, 1]], like=s)


def rotate3d(v: Tensor, theta: Tensor) -> Tensor:
    """Rotation by `theta` [N] about the unit axis `v` [4] (Rodrigues' formula), homogeneous 4x4."""
    vx, vy, vz = v[0], v[1], v[2]
    s, c = torch.sin(theta), torch.cos(theta)
    cc = 1 - c
    return matrix([[vx * vx * cc + c, vx * vy * cc - vz * s, vx * vz * cc + vy * s, 0],
                   [vy * vx * cc + vz * s, vy * vy * cc + c, vy * vz * cc - vx * s, 0],
                   [vz * vx * cc - vy * s, vz * vy * cc + vx * s, vz * vz * cc + c, 0],
                   [0, 0, 0, 1]], like=theta)


def constant_scale(sx: float, sy: float, device: torch.device) -> Tensor:
    return matrix([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], device=device)


def constant_translate(tx: float, ty: float, device: torch.device) -> Tensor:
    return matrix([[1, 0, tx], [0, 1, ty], [0, 0, 1]], device=device)


def upsample2x(x: Tensor, taps: Tensor) -> Tensor:
    """[N, C, H, W] -> [N, C, 2H, 2W]: zeros inserted after each sample, then convolved with `taps` (gain 2 per
    axis, so a constant stays constant), centred. A transposed convolution skips the products with zeros."""
    n, channels, h, w = x.shape
    k = taps.shape[0]
    start = k - 1 - (k + 1) // 2  # where the centred output begins in the full convolution
    kernel = (taps * 2).to(x.dtype).view(1, 1, 1, k)  # conv_transpose2d convolves (no flip needed)
    x = x.reshape(n * channels, 1, h, w)  # channels as batch: one single-channel kernel, fast on CPUs
    x = F.conv_transpose2d(x, kernel, stride=(1, 2))[:, :, :, start: start + 2 * w]
    x = F.conv_transpose2d(x, kernel.transpose(2, 3), stride=(2, 1))[:, :, start: start + 2 * h, :]
    return x.reshape(n, channels, 2 * h, 2 * w)


def downsample2x(x: Tensor, taps: Tensor, pad: tuple[int, int]) -> Tensor:
    """[N, C, H, W] padded with zeros by `pad` (negative: cropped) on every side, correlated with `taps`,
    every second sample kept; per axis (width, then height)."""
    p0, p1 = pad
    x = F.pad(x, [max(p0, 0), max(p1, 0)] * 2)
    x = x[:, :, max(-p0, 0): x.shape[2] - max(-p1, 0), max(-p0, 0): x.shape[3] - max(-p1, 0)]
    n, channels, h, w = x.shape
    kernel = taps.to(x.dtype).view(1, 1, 1, -1)
    x = F.conv2d(x.reshape(n * channels, 1, h, w), kernel, stride=(1, 2))
    x = F.conv2d(x, kernel.transpose(2, 3), stride=(2, 1))
    return x.reshape(n, channels, *x.shape[2:])


def warp(images: Tensor, G_inv: Tensor, taps: Tensor) -> Tensor:
    """Images [N, C, H, W] resampled through G_inv [N, 3, 3] (output pixel -> input pixel, centred pixel
    coordinates), anti-aliased by 2x oversampling with `taps` (a normalized low-pass filter)."""
    n, channels, height, width = images.shape
    device = images.device
    # The padding that covers the warped corners, for the whole batch (one shape); never more than the image.
    cx, cy = (width - 1) / 2, (height - 1) / 2
    corners = matrix([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device=device)  # [4, xyz]
    corners = G_inv @ corners.t()  # [N, xyz, 4]
    extra = taps.shape[0] // 4  # pixels of filter support each side
    margin = corners[:, :2, :].permute(1, 0, 2).flatten(1)  # [xy, N * 4]
    margin = torch.cat([-margin, margin]).max(dim=1).values  # [x0, y0, x1, y1]
    margin = margin + torch.tensor([extra * 2 - cx, extra * 2 - cy] * 2, device=device)
    margin = margin.max(torch.zeros(4, device=device))
    margin = margin.min(torch.tensor([width - 1, height - 1] * 2, dtype=torch.float32, device=device))
    mx0, my0, mx1, my1 = margin.ceil().to(torch.int32).tolist()  # one host sync: the padded shape
    images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
    G_inv = constant_translate((mx0 - mx1) / 2, (my0 - my1) / 2, device) @ G_inv
    # 2x upsampling; the matrix follows into the upsampled pixel grid
    images = upsample2x(images, taps)
    G_inv = constant_scale(2, 2, device) @ G_inv @ constant_scale(0.5, 0.5, device)
    G_inv = constant_translate(-0.5, -0.5, device) @ G_inv @ constant_translate(0.5, 0.5, device)
    # Sample the output (with the filter's margin) in normalized coordinates
    shape = [n, channels, (height + extra * 2) * 2, (width + extra * 2) * 2]
    G_inv = (constant_scale(2 / images.shape[3], 2 / images.shape[2], device) @ G_inv
             @ constant_scale(shape[3] / 2, shape[2] / 2, device))
    grid = F.affine_grid(G_inv[:, :2, :], shape, align_corners=False)
    images = F.grid_sample(images, grid.to(images.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
    # 2x downsampling with the same filter, cropping the margin
    k = taps.shape[0]
    return downsample2x(images, taps, pad=((k - 1) // 2 - extra * 2, (k - 2) // 2 - extra * 2))


def recolor(images: Tensor, C: Tensor) -> Tensor:
    """Images [N, C, H, W] (RGB or grey) through colour matrices C [N, 4, 4] acting on (r, g, b, 1); a grey
    image takes the mean of the three output rows applied to (l, l, l, 1)."""
    n, channels, height, width = images.shape
    flat = images.reshape(n, channels, height * width)
    C = C.to(images.dtype)
    if channels == 3:
        flat = C[:, :3, :3] @ flat + C[:, :3, 3:]
    else:
        C = C[:, :3, :].mean(dim=1, keepdim=True)  # [N, 1, 4]
        flat = flat * C[:, :, :3].sum(dim=2, keepdim=True) + C[:, :, 3:]
    return flat.reshape(n, channels, height, width)
