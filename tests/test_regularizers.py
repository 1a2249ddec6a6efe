"""Penalties equal hand-computed values on discriminators whose input gradient is known in closed form."""
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning.objectives import regularizers as R
from gan_lightning.errors import ConfigError


class LinearD(nn.Module):
    """D(x) = <w, x> + b: the input gradient is w for every sample."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(0.5))

    def forward(self, x, c=None):
        return (x * self.w).flatten(1).sum(1) + self.b


class SquareD(nn.Module):
    """D(x) = sum(x^2): the input gradient is 2x."""

    def forward(self, x, c=None):
        return x.square().flatten(1).sum(1)


W = torch.tensor([[[0.6]], [[0.8]], [[2.0]]])  # [3, 1, 1], ||w|| = sqrt(0.36 + 0.64 + 4) = sqrt(5)
real = torch.randn(4, 3, 1, 1, generator=torch.Generator().manual_seed(1))
fake = torch.randn(4, 3, 1, 1, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("cls", [R.GradientPenalty, R.DRAGAN])
def test_gradient_norm_penalties_on_linear_d(cls):
    reg = cls(weight=10.0)
    expected = (5**0.5 - 1) ** 2
    assert_close(reg.penalty(LinearD(W), real, fake, None), torch.tensor(expected))
    assert_close(reg(LinearD(W), real, fake), torch.tensor(10.0 * expected))


def test_gradient_penalty_uses_interpolates_between_real_and_fake():
    torch.manual_seed(0)
    eps = torch.rand(4, 1, 1, 1)
    x_hat = eps * real + (1 - eps) * fake
    expected = ((2 * x_hat).flatten(1).norm(dim=1) - 1).square().mean()
    torch.manual_seed(0)
    assert_close(R.GradientPenalty().penalty(SquareD(), real, fake, None), expected)


class PooledLinearD(LinearD):
    """D(x) = <w, avgpool(x, 4)> + b, like PGGAN's D at a stage 4 times below the input size."""

    pooling = 4

    def forward(self, x, c=None):
        return super().forward(nn.functional.avg_pool2d(x, self.pooling))


def test_gradient_penalty_at_stage_resolution_scales_the_norm_by_the_pooling():
    # d D / d x = w / 16 on every pixel of a 4x4 block, so ||grad|| = ||w|| / 4 over the 4x4 input;
    # at the stage resolution (the pooled 1x1 image) it is ||w|| = sqrt(5)
    real4, fake4 = (torch.nn.functional.interpolate(x, scale_factor=4) for x in (real, fake))
    full = R.GradientPenalty().penalty(PooledLinearD(W), real4, fake4, None)
    stage = R.GradientPenalty(stage_resolution=True).penalty(PooledLinearD(W), real4, fake4, None)
    assert_close(full, torch.tensor((5**0.5 / 4 - 1) ** 2))
    assert_close(stage, torch.tensor((5**0.5 - 1) ** 2))
    # a D without `pooling` is unaffected
    assert_close(R.GradientPenalty(stage_resolution=True).penalty(LinearD(W), real, fake, None),
                 torch.tensor((5**0.5 - 1) ** 2))


def test_dragan_perturbs_reals_only():
    torch.manual_seed(0)
    noise = torch.rand_like(real)
    alpha = torch.rand(4, 1, 1, 1)
    x_hat = real + alpha * (0.5 * real.std() * noise)
    expected = ((2 * x_hat).flatten(1).norm(dim=1) - 1).square().mean()
    torch.manual_seed(0)
    assert_close(R.DRAGAN().penalty(SquareD(), real, fake * 100, None), expected)


def test_r1_and_r2():
    r1 = 0.5 * (2 * real).flatten(1).square().sum(1).mean()
    r2 = 0.5 * (2 * fake).flatten(1).square().sum(1).mean()
    assert_close(R.R1(weight=1.0).penalty(SquareD(), real, fake, None), r1)
    assert_close(R.R2(weight=1.0).penalty(SquareD(), real, fake, None), r2)
    assert_close(R.R1(weight=1.0).penalty(LinearD(W), real, fake, None), torch.tensor(0.5 * 5.0))


def test_lazy_regularisation_runs_every_interval_and_scales_by_it():
    reg = R.R1(weight=10.0, interval=4)
    assert [reg.is_due(step) for step in range(9)] == [True, False, False, False, True, False, False, False, True]
    assert_close(reg(LinearD(W), real, fake), torch.tensor(10.0 * 4 * 0.5 * 5.0))


def test_penalty_backpropagates_to_d_parameters():
    d = LinearD(W)
    R.R1(weight=1.0)(d, real, fake).backward()
    assert_close(d.w.grad, W)  # d/dw of 0.5 ||w||^2


def test_l2_is_compare_gans_mean_over_layers_of_half_squared_norms():
    d = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    with torch.no_grad():
        d[0].weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 1.0]]))  # ||W||^2 = 7
        d[1].weight.copy_(torch.tensor([[3.0, 0.0]]))                        # ||W||^2 = 9; biases are not counted
    assert_close(R.L2(weight=1e-4).penalty(d, real, fake, None), torch.tensor((7 / 2 + 9 / 2) / 2))


def test_weight_clipping_clamps_after_the_d_step():
    d = LinearD(W)
    reg = R.WeightClipping(clip=0.7)
    assert not reg.is_due(0)
    reg.after_d_step(d)
    assert_close(d.w.detach(), torch.tensor([[[0.6]], [[0.7]], [[0.7]]]))
    assert_close(d.b.detach(), torch.tensor(0.5))


def test_no_regularizer_is_never_due():
    assert not any(R.NoRegularizer().is_due(s) for s in range(10))


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_bad_interval_names_the_value(bad):
    with pytest.raises(ConfigError, match=f"regularizer.r1.interval={bad}"):
        R.R1(interval=bad)


def test_bad_clip_names_the_value():
    with pytest.raises(ConfigError, match="regularizer.clip.clip=-1"):
        R.WeightClipping(clip=-1)
