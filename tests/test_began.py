"""BEGAN: the auto-encoder D, the equilibrium loss and its k_t, which a resumed run carries on exactly."""
import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.nets.began import Discriminator, Generator
from gan_lightning.objectives.losses import BEGAN, Hinge
from tests.conftest import compose, tiny
from tests.test_module import fit


def test_loss_values_and_the_k_update_by_hand():
    loss = BEGAN(gamma=0.5, lambda_k=0.1, k_init=0.2)
    real, fake = torch.tensor([0.4, 0.2]), torch.tensor([0.1, 0.3])  # means 0.3 and 0.2
    assert_close(loss.d(real, fake), torch.tensor(0.3 - 0.2 * 0.2))
    assert_close(loss.g(fake), torch.tensor(0.2))
    logs = loss.after_d_step(real, fake)  # balance = 0.5 * 0.3 - 0.2 = -0.05
    assert_close(loss.k, torch.tensor(0.2 - 0.1 * 0.05))
    assert_close(logs["equilibrium/k"], torch.tensor(0.195))
    assert_close(logs["equilibrium/convergence"], torch.tensor(0.3 + 0.05))
    assert_close(loss.d(real, fake), torch.tensor(0.3 - 0.195 * 0.2))  # the next D step uses k_{t+1}


def test_k_is_clipped_to_0_1_and_is_a_buffer():
    loss = BEGAN(gamma=1.0, lambda_k=10.0)
    loss.after_d_step(torch.tensor([1.0]), torch.tensor([0.0]))
    assert loss.k.item() == 1.0
    loss.after_d_step(torch.tensor([0.0]), torch.tensor([1.0]))
    assert loss.k.item() == 0.0
    assert "k" in loss.state_dict()
    assert Hinge().after_d_step(torch.ones(2), torch.zeros(2)) == {}  # stateless losses: nothing to do


@pytest.mark.parametrize("key,value", [("gamma", 1.5), ("k_init", -0.1), ("lambda_k", -1.0)])
def test_bad_hyper_parameters_name_the_key(key, value):
    with pytest.raises(ConfigError, match=f"loss.{key}={value}"):
        BEGAN(**{key: value})


@pytest.mark.parametrize("resolution,channels", [(16, 1), (32, 3)])
def test_nets_give_images_and_per_image_l1_errors_with_gradients_everywhere(resolution, channels):
    G = Generator(z_dim=8, img_resolution=resolution, img_channels=channels, channels=4)
    D = Discriminator(img_resolution=resolution, img_channels=channels, channels=4, h_dim=8)
    fake = G(torch.randn(3, 8))
    assert fake.shape == (3, channels, resolution, resolution)
    errors = D(fake)
    assert errors.shape == (3,) and bool((errors >= 0).all())
    assert_close(errors[1], (fake[1] - D.reconstruct(fake)[1]).abs().mean())
    errors.sum().backward()
    for net in (G, D):
        for name, p in net.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_bad_resolution_and_labels_are_config_errors():
    with pytest.raises(ConfigError, match="arch.generator.img_resolution=12"):
        Generator(z_dim=8, img_resolution=12, img_channels=1)
    with pytest.raises(ConfigError, match="c_dim"):
        Discriminator(img_resolution=16, img_channels=1, c_dim=10)


def test_k_moves_is_checkpointed_and_logged(tmp_path):
    # exact resume of k_t is a case of tests/test_resume.py; here: k leaves 0, is in the checkpoint, is logged
    module, trainer = fit(compose(tiny("began", "loss=began", "loss.lambda_k=0.05", "dataset.resolution=16",
                                       "metrics=none", "total_kimg=0.032"), tmp_path))
    assert module.loss.k > 0
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["loss.k"]
    assert torch.equal(saved, module.loss.k)
    metrics = trainer.callback_metrics
    assert_close(metrics["equilibrium/k"], module.loss.k)
    assert torch.isfinite(metrics["equilibrium/convergence"])
