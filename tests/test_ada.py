"""ADA (augment=ada): gradients reach G, p adapts by the paper's rule and is checkpointed, fixed p stays, and
bad settings are refused with the key named. Equality with the reference pipeline: tests/test_parity_ada.py."""
import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.nets.dcgan import Discriminator
from gan_lightning.objectives.ada import AdaptiveAugment
from gan_lightning.objectives.augment import Augmented
from gan_lightning.run.build import build_module
from tests.conftest import compose, tiny


@pytest.mark.parametrize("channels", [1, 3])
def test_gradient_reaches_the_fake_images_at_p_1(channels):
    torch.manual_seed(0)
    D = Discriminator(img_resolution=16, img_channels=channels, channels=8)
    fake = torch.randn(4, channels, 16, 16, requires_grad=True)
    augmented = Augmented(D, AdaptiveAugment(p=1.0, img_channels=channels))
    (grad,) = torch.autograd.grad(augmented(fake).sum(), fake)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert (grad != 0).float().mean() > 0.5  # the warp moves pixels: the gradient is spread, not lost


def test_p_0_is_the_identity_up_to_the_resampling_filter():
    x = torch.rand(4, 3, 16, 16) * 2 - 1
    assert_close(AdaptiveAugment(p=0.0)(x), x, atol=1e-5, rtol=0)  # sym6 up then down is orthogonal


def logits(n: int, positive: int) -> torch.Tensor:
    """n logits of which `positive` are > 0."""
    return torch.tensor([1.0] * positive + [-1.0] * (n - positive))


def test_p_moves_every_interval_by_sign_of_rt_minus_target_times_images_over_speed():
    augment = AdaptiveAugment(target=0.6, interval=4, speed_kimg=0.5)  # p moves 8 * 4 / 500 per update
    fake = torch.zeros(8)
    for _ in range(3):  # r_t = (7 - 1) / 8 = 0.75 > 0.6, but not due yet
        logs = augment.after_d_step(logits(8, 7), fake)
        assert logs["augment/p"] == 0 and logs["augment/rt"] == 0
    logs = augment.after_d_step(logits(8, 7), fake)
    assert_close(logs["augment/p"], torch.tensor(32 / 500))
    assert_close(logs["augment/rt"], torch.tensor(0.75))
    for step in range(4):  # batches at r_t 1, 0.25, 1, 0.25: together 0.625 > 0.6
        augment.after_d_step(logits(8, 5 if step % 2 else 8), fake)
    assert_close(augment.p, torch.tensor(64 / 500))
    assert_close(augment.rt, torch.tensor(0.625))
    for _ in range(4 * 3):  # r_t = 0 < 0.6: down, clamped at 0
        augment.after_d_step(logits(8, 4), fake)
    assert augment.p == 0 and augment.rt == 0


def test_p_is_clamped_at_1_and_state_dict_holds_all_of_it():
    augment = AdaptiveAugment(interval=1, speed_kimg=0.004)  # +1 per update of 4 images
    for _ in range(3):
        augment.after_d_step(logits(4, 4), torch.zeros(4))
    augment.after_d_step(logits(4, 4), torch.zeros(4))  # mid-interval state would live in `signs`
    assert augment.p == 1
    state = augment.state_dict()
    assert set(state) == {"p", "rt", "steps", "signs"} and state["steps"] == 4
    restored = AdaptiveAugment()
    restored.load_state_dict(state)
    assert restored.p == 1 and restored.steps == 4


def test_a_fixed_p_does_not_move():
    augment = AdaptiveAugment(p=0.3)
    for _ in range(8):
        logs = augment.after_d_step(logits(8, 8), torch.zeros(8))
    assert_close(logs["augment/p"], torch.tensor(0.3))
    assert "augment/rt" not in logs and augment.p == torch.tensor(0.3)


def test_each_transform_applies_with_probability_p_per_image():
    torch.manual_seed(0)
    only_flip = {op: 0.0 for op in ("rotate90", "xint", "scale", "rotate", "aniso", "xfrac", "brightness",
                                    "contrast", "lumaflip", "hue", "saturation")}
    x = torch.linspace(-1, 1, 8).view(1, 1, 1, 8).expand(4000, 1, 8, 8).contiguous()
    out = AdaptiveAugment(p=0.5, img_channels=1, probability=only_flip)(x)
    flipped = (out[:, 0, 0, 0] > 0).float().mean()  # heads (0.5) times a flip drawn (0.5)
    assert abs(flipped.item() - 0.25) < 0.03


def test_cutout_zeroes_a_square_of_half_the_side_at_the_drawn_centre_and_is_off_by_default():
    from gan_lightning.objectives.ada import OPS

    assert AdaptiveAugment(p=1.0, img_channels=1).multiplier["cutout"] == 0.0  # `bgc` has no cutout
    only_cutout = {**{op: 0.0 for op in OPS}, "cutout": 1.0}
    augment = AdaptiveAugment(p=0.5, img_channels=3, probability=only_cutout)
    x = torch.rand(2, 3, 16, 16, requires_grad=True)
    # StyleGAN2-ADA's order of draws: the coin [N, 1] (0.2 < p: heads; 0.9: tails), then the centres [N, 2]
    draws = iter([torch.tensor([[0.2], [0.9]]), torch.tensor([[0.5, 0.25], [0.5, 0.5]])])
    out = augment.augment(x, lambda shape: next(draws), lambda shape: pytest.fail("cutout draws no normals"))
    inside = torch.zeros(16, 16, dtype=torch.bool)
    inside[0:8, 4:12] = True  # |(i + 0.5) / 16 - centre| < 0.25: columns 4..11, rows 0..7 (centre y 0.25)
    assert torch.equal(out[0], torch.where(inside, torch.zeros_like(x[0]), x[0]))
    assert torch.equal(out[1], x[1])  # tails: no cutout
    out.sum().backward()
    assert torch.equal(x.grad[0], (~inside).float().expand(3, 16, 16))


@pytest.mark.parametrize("kwargs,match", [
    ({"p": 1.5}, r"augment.p=1.5 is not supported; accepted: a number >= 0 and <= 1 or null"),
    ({"p": -0.1}, r"augment.p=-0.1"),
    ({"img_channels": 2}, r"augment=ada needs images of 1 or 3 channels.*dataset=ring"),
    ({"probability": {"blur": 1}}, r"augment.probability has 'blur'"),
    ({"interval": 0}, r"augment.interval=0"),
])
def test_bad_settings_name_the_key(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        AdaptiveAugment(**kwargs)


def test_ada_on_a_toy_2d_dataset_is_refused_before_training(tmp_path):
    cfg = compose(tiny("mlp", "dataset=ring", "augment=ada"), tmp_path)
    with pytest.raises(Exception) as error:
        build_module(cfg)
    cause = error.value
    while not isinstance(cause, ConfigError) and cause.__cause__ is not None:
        cause = cause.__cause__
    assert isinstance(cause, ConfigError) and "img_channels=2" in str(cause)


def test_the_training_step_logs_p_and_rt_and_moves_p(tmp_path):
    import lightning as L

    from gan_lightning.run.build import build

    cfg = compose(tiny("dcgan", "dataset.resolution=16", "augment=ada", "augment.speed_kimg=0.01",
                       "metrics=none", "total_kimg=0.064"), tmp_path)  # 8 batches of 8: two updates of 3.2
    datamodule, module, trainer = build(cfg)
    assert isinstance(trainer, L.Trainer)
    trainer.fit(module, datamodule=datamodule)
    assert {"augment/p", "augment/rt"} <= set(module.last_logs)
    # +-3.2 per update: p is clamped at 1 when the last r_t was above the target, else at 0
    assert module.augment.steps == 8 and module.augment.p == float(module.augment.rt > 0.6)
    assert_close(module.last_logs["augment/p"], module.augment.p)


@pytest.mark.parametrize("overrides,message", [
    (("arch=mlp", "dataset=ring"), "augment=ada needs images of 1 or 3 channels; the dataset has img_channels=2"),
    (("augment.p=1.5",), "augment.p=1.5 is not supported; accepted: a number >= 0 and <= 1 or null"),
])
def test_bad_input_from_the_command_line_ends_with_one_line(overrides, message, tmp_path):
    from tests.test_train import train

    arch = "mlp" if "arch=mlp" in overrides else "dcgan"
    result = train([*tiny(arch), "augment=ada", *overrides, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert result.returncode != 0 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before training
