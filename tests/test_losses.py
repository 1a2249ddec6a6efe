"""Every loss equals its formula computed by hand (plain Python math on two-sample batches)."""
import math

import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.objectives import losses

R = [1.0, -2.0]  # real logits
F = [0.5, 3.0]  # fake logits


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs)


def t(xs) -> torch.Tensor:
    return torch.tensor(xs, dtype=torch.float64)


def check(loss: losses.GANLoss, d_expected: float, g_expected: float) -> None:
    assert_close(loss.d(t(R), t(F)), torch.tensor(d_expected, dtype=torch.float64))
    real = t(R) if loss.uses_real_in_g else None
    assert_close(loss.g(t(F), real), torch.tensor(g_expected, dtype=torch.float64))


def test_minimax():
    d = -mean(math.log(sig(r)) for r in R) - mean(math.log(1 - sig(f)) for f in F)
    check(losses.Minimax(), d, mean(math.log(1 - sig(f)) for f in F))


def test_non_saturating():
    d = -mean(math.log(sig(r)) for r in R) - mean(math.log(1 - sig(f)) for f in F)
    check(losses.NonSaturating(), d, -mean(math.log(sig(f)) for f in F))


def test_wasserstein():
    check(losses.Wasserstein(), mean(F) - mean(R), -mean(F))


def test_least_squares():
    d = 0.5 * mean((r - 1) ** 2 for r in R) + 0.5 * mean(f**2 for f in F)
    check(losses.LeastSquares(), d, 0.5 * mean((f - 1) ** 2 for f in F))


def test_least_squares_custom_targets():
    d = 0.5 * mean((r - 2) ** 2 for r in R) + 0.5 * mean((f + 1) ** 2 for f in F)
    check(losses.LeastSquares(a=-1, b=2, c=0), d, 0.5 * mean(f**2 for f in F))


def test_hinge():
    d = mean(max(0, 1 - r) for r in R) + mean(max(0, 1 + f) for f in F)
    check(losses.Hinge(), d, -mean(F))


def test_relativistic_standard():
    d = -mean(math.log(sig(r - f)) for r, f in zip(R, F))
    g = -mean(math.log(sig(f - r)) for r, f in zip(R, F))
    check(losses.RelativisticStandard(), d, g)


def test_relativistic_average_standard():
    mr, mf = mean(R), mean(F)
    d = -mean(math.log(sig(r - mf)) for r in R) - mean(math.log(1 - sig(f - mr)) for f in F)
    g = -mean(math.log(sig(f - mr)) for f in F) - mean(math.log(1 - sig(r - mf)) for r in R)
    check(losses.RelativisticAverage("standard"), d, g)


def test_relativistic_average_lsgan():
    mr, mf = mean(R), mean(F)
    d = mean((r - mf - 1) ** 2 for r in R) + mean((f - mr + 1) ** 2 for f in F)
    g = mean((f - mr - 1) ** 2 for f in F) + mean((r - mf + 1) ** 2 for r in R)
    check(losses.RelativisticAverage("lsgan"), d, g)


def test_relativistic_average_hinge():
    mr, mf = mean(R), mean(F)
    d = mean(max(0, 1 - (r - mf)) for r in R) + mean(max(0, 1 + (f - mr)) for f in F)
    g = mean(max(0, 1 - (f - mr)) for f in F) + mean(max(0, 1 + (r - mf)) for r in R)
    check(losses.RelativisticAverage("hinge"), d, g)


def test_drift_term_adds_eps_times_mean_square_of_real_logits():
    base = mean(F) - mean(R)
    check(losses.Wasserstein(drift=0.001), base + 0.001 * mean(r * r for r in R), -mean(F))


def test_only_relativistic_losses_ask_for_real_logits_in_g_step():
    relativistic = {losses.RelativisticStandard, losses.RelativisticAverage}
    for cls in (losses.Minimax, losses.NonSaturating, losses.Wasserstein, losses.LeastSquares, losses.Hinge,
                *relativistic):
        assert cls.uses_real_in_g == (cls in relativistic)


def test_softplus_form_is_stable_for_large_logits():
    loss = losses.NonSaturating()
    big = torch.tensor([200.0, -200.0])
    assert torch.isfinite(loss.d(big, -big)) and torch.isfinite(loss.g(-big))
    assert_close(loss.g(torch.tensor([-200.0])), torch.tensor(200.0))


def test_unknown_relativistic_kind_is_rejected_with_the_value():
    with pytest.raises(ConfigError, match="loss.kind='wasserstein'"):
        losses.RelativisticAverage("wasserstein")
