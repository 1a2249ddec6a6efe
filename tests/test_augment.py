"""DiffAugment: shapes kept, differentiable, identity at probability 0, and the same object for real and fake."""
import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.objectives.augment import (
    Augmented,
    DiffAugment,
    color,
    cutout,
    translation,
)


@pytest.mark.parametrize("policy", ["translation", "cutout", "color", "translation,cutout,color"])
def test_every_policy_keeps_the_shape_and_passes_gradients(policy):
    x = torch.randn(6, 3, 16, 16, requires_grad=True)
    y = DiffAugment(policy)(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    (grad,) = torch.autograd.grad(y.square().sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_default_order_is_the_official_color_translation_cutout(tmp_path):
    # mit-han-lab/data-efficient-gans DiffAugment_pytorch.py applies the policy 'color,translation,cutout'
    # in its order: colour first, so the zeros that translation shifts in and the cutout hole stay 0
    from hydra.utils import instantiate

    from tests.conftest import compose

    x = torch.rand(16, 3, 8, 8) + 1.0  # no zero anywhere
    configured = instantiate(compose(["augment=diffaugment"], tmp_path).augment)
    for augment in (DiffAugment(), configured):
        assert augment.policy == ["color", "translation", "cutout"]
        torch.manual_seed(0)
        out = augment(x)
        torch.manual_seed(0)
        assert_close(out, cutout(translation(color(x), 0.125), 0.5), rtol=0, atol=0)
        assert ((out == 0).flatten(1).sum(1) >= 3 * 4).all()  # at least a 2x2 corner of the hole, in every channel


def test_probability_zero_is_the_identity():
    x = torch.randn(4, 3, 8, 8)
    augment = DiffAugment(probability={"translation": 0, "cutout": 0, "color": 0})
    assert torch.equal(augment(x), x)


def test_probability_is_per_image():
    torch.manual_seed(0)
    x = torch.ones(2000, 1, 8, 8)
    out = DiffAugment(["cutout"], probability={"cutout": 0.25})(x)
    changed = (out != x).flatten(1).any(1).float().mean()
    assert abs(changed.item() - 0.25) < 0.03  # each image draws its own coin


def test_translation_shifts_whole_images_with_zeros_shifted_in():
    x = torch.arange(1, 17.0).view(1, 1, 4, 4).repeat(50, 1, 1, 1)
    torch.manual_seed(0)
    out = translation(x, ratio=0.25)  # shifts of -1, 0 or 1 pixel per axis
    for image in out[:, 0]:
        nonzero = image[image != 0]
        # a shifted copy: the kept pixels are consecutive rows/columns of the original
        rows, cols = (image != 0).any(1).sum().item(), (image != 0).any(0).sum().item()
        assert rows in (3, 4) and cols in (3, 4) and nonzero.numel() == rows * cols
        assert set(nonzero.tolist()) <= set(range(1, 17))


def test_cutout_zeroes_one_square_of_the_given_side():
    torch.manual_seed(1)
    out = cutout(torch.ones(200, 2, 8, 8), ratio=0.5)  # a 4x4 hole, clipped at the borders
    holes = (out == 0).all(1)  # [N, H, W]: the same hole in every channel
    assert torch.equal((out == 0).any(1), holes)
    sizes = holes.flatten(1).sum(1)
    assert sizes.max() == 16 and sizes.min() >= 4  # full square, or at least a 2x2 corner of it


def test_augmented_discriminator_differentiates_wrt_the_input_before_augmentation():
    class D(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(12, 1)
            self.pooling = 4

        def forward(self, x, c=None):
            return self.linear(x.flatten(1)).squeeze(1)

    D = D()
    view = Augmented(D, lambda x: 2 * x)  # a stand-in augmentation
    x = torch.randn(3, 1, 3, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(view(x, None).sum(), x)
    assert_close(grad, 2 * D.linear.weight.detach().view(1, 1, 3, 4).expand(3, 1, 3, 4))
    assert view.pooling == 4
    assert list(view.parameters()) == list(D.parameters())


@pytest.mark.parametrize("bad,match", [({"policy": ["blur"]}, "augment.policy has 'blur'"),
                                       ({"probability": {"color": 1.5}}, "augment.probability.color=1.5")])
def test_bad_settings_name_the_key(bad, match):
    with pytest.raises(ConfigError, match=match):
        DiffAugment(**bad)


class Recorder(nn.Module):
    """An augmentation that records the tensors it sees (their id and whether they need grad)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, bool]] = []

    def forward(self, x):
        self.seen.append((x.shape[0], x.requires_grad))
        return x


def test_the_same_augmentation_sees_real_and_fake_in_d_step_penalty_and_g_step(tiny_cfg):
    from gan_lightning.run.build import build

    cfg = tiny_cfg("mlp", "dataset=ring", "regularizer=r1", "total_kimg=0.008", "augment=diffaugment")
    datamodule, module, trainer = build(cfg)
    assert isinstance(module.augment, DiffAugment)
    recorder = Recorder()
    module.augment = module.augmented_discriminator.augment = recorder
    trainer.fit(module, datamodule=datamodule)
    # one batch: D on real, D on fake, R1 on real (needs grad), G step on fake (needs grad for G)
    assert recorder.seen == [(8, False), (8, False), (8, True), (8, True)]

