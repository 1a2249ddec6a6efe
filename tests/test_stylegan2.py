"""StyleGAN2 by hand: the generator's structure, truncation, the resolution check, path length regularization
and its lazy G step. The D: tests/test_residual_d.py; reference parity: tests/test_parity_stylegan2.py."""
import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.nets import r3gan, stylegan2
from gan_lightning.objectives.generator_penalties import PathLength
from gan_lightning.objectives.regularizers import R1
from gan_lightning.run.build import build_module
from gan_lightning.run.config import compose
from tests.conftest import ARCH_TINY, tiny


def test_generator_structure_and_gradients_to_every_parameter():
    torch.manual_seed(0)
    G = stylegan2.Generator(8, 16, 3, c_dim=2, w_dim=8, mapping_layers=2, channel_base=64, max_channels=8)
    D = stylegan2.Discriminator(16, 3, c_dim=2, channel_base=64, max_channels=8, mbstd_group_size=2)
    assert G.num_ws == 6 and len(G.mapping.layers) == 2  # 4x4: 1 conv; 8, 16: 2 each; + the last toRGB
    assert all(math.isclose(layer.bias_gain, 0.01) for layer in G.mapping.layers)
    assert [b.conv1.noise_const.shape[-1] for b in G.blocks] == [4, 8, 16]
    c = torch.tensor([0, 1, 1, 0])
    fake = G(torch.randn(4, 8), c)
    assert fake.shape == (4, 3, 16, 16)
    D(fake, c).sum().backward()
    for name, p in [*G.named_parameters(prefix="G"), *D.named_parameters(prefix="D")]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    G.eval()
    z = torch.randn(3, 8)
    assert_close(G(z, c[:3], truncation=0.0, noise_mode="const"),
                 G.synthesis(G.mapping.w_avg.expand(3, G.num_ws, -1), noise_mode="const"))


def test_stylegan2_refuses_a_resolution_that_is_not_a_power_of_two_in_one_line(tmp_path):
    from gan_lightning.run.build import run

    with pytest.raises(SystemExit) as stop:  # the image datasets say it first
        run(compose(tiny("stylegan2", "dataset.resolution=24"), tmp_path))
    assert str(stop.value) == "error: dataset.resolution=24 is not supported; accepted: a power of two >= 4"
    for net in (lambda: stylegan2.Generator(8, 24, 3), lambda: stylegan2.Discriminator(24, 3)):
        with pytest.raises(ConfigError, match=r"^arch.(generator|discriminator).img_resolution=24 is not supported; "
                                              r"accepted: a power of two >= 8$"):
            net()


class LinearStyles(nn.Module):
    """A generator whose Jacobian is known: ws [n, 2, 3] = z reshaped, image = (A ws.flatten) as [n, 1, 2, 2]."""

    z_dim = 6

    def __init__(self) -> None:
        super().__init__()
        self.A = torch.arange(24.0).reshape(4, 6) / 10

    def styles(self, z, c=None):
        return z.reshape(-1, 2, 3).requires_grad_(True)  # in a real G, ws depend on the mapping weights

    def synthesis(self, ws):
        return (ws.flatten(1) @ self.A.T).reshape(-1, 1, 2, 2)


def test_path_length_penalty_by_hand_and_its_running_mean_in_a_buffer():
    reg = PathLength(R1(weight=10.0, interval=16), generator_weight=2.0, generator_interval=4, decay=0.01)
    G = LinearStyles()
    torch.manual_seed(0)
    penalty = reg.generator_penalty(G, real=torch.zeros(8, 1, 2, 2))  # batch 8 // shrink 2 = 4 samples
    torch.manual_seed(0)
    torch.randn(4, 6)  # the z's
    y = torch.randn(4, 1, 2, 2) / 2  # / sqrt(H W)
    grads = (y.flatten(1) @ G.A).reshape(4, 2, 3)  # J^T y
    lengths = grads.square().sum(2).mean(1).sqrt()
    mean = 0.01 * lengths.mean()
    assert_close(penalty, (lengths - mean).square().mean() * 2.0 * 4)
    assert_close(reg.pl_mean, mean)
    assert "pl_mean" in reg.state_dict() and reg.name == "r1" and reg.generator_name == "pl"


def test_path_length_is_a_lazy_g_step_of_its_own_with_gs_adam_adjusted(tmp_path):
    cfg = compose(["arch=stylegan2", *ARCH_TINY["stylegan2"], "dataset.resolution=16", "regularizer=path_length",
                   "optimizer.generator.lr=0.002", "optimizer.generator.betas=[0.0,0.99]"], tmp_path)
    module = build_module(cfg)
    opt_g, opt_d = module.configure_optimizers()
    assert_close(opt_g.param_groups[0]["lr"], 0.002 * 4 / 5)
    assert_close(opt_g.param_groups[0]["betas"][1], 0.99 ** (4 / 5))
    assert_close(opt_d.param_groups[0]["lr"], cfg.optimizer.discriminator.lr * 16 / 17)
    assert [module.regularizer.items["path_length"].generator_is_due(g) for g in range(6)] == [True, False, False, False, True, False]


def test_lazy_path_length_adds_a_g_step_every_fourth_g_step(tiny_cfg):
    from gan_lightning.run.build import build

    cfg = tiny_cfg("stylegan2", "dataset.resolution=16", "regularizer=path_length", "total_g_steps=5",
                   "total_kimg=null")
    datamodule, module, trainer = build(cfg)
    trainer.fit(module, datamodule=datamodule)
    steps = {int(state["step"]) for state in trainer.optimizers[0].state.values()}
    assert max(steps) == 5 + 2  # G steps 0 and 4 add a path length step (toRGB biases do not reach J: 5)
    assert torch.isfinite(trainer.callback_metrics["reg/pl"]) and module.regularizer.items["path_length"].pl_mean > 0



@pytest.mark.parametrize("arch", ["stylegan2", "r3gan"])
def test_arch_ends_in_a_tanh_that_the_cifar_presets_turn_off(arch, tmp_path):
    """arch=<arch> returns images in [-1, 1] (output_tanh; the linear output collapsed MNIST); the class default
    and the preset that cites the official configuration keep the reference's linear output."""
    composed = {name: compose([*overrides, *ARCH_TINY[arch]], tmp_path / name).arch.generator.output_tanh
                for name, overrides in (("arch", [f"arch={arch}"]), ("preset", [f"experiment={arch}_cifar10"]))}
    assert composed == {"arch": True, "preset": False}
    net = stylegan2.Generator if arch == "stylegan2" else r3gan.Generator
    small = (dict(w_dim=8, mapping_layers=2, channel_base=64, max_channels=8, mixing_prob=0.0) if arch == "stylegan2"
             else dict(width=8, cardinality=2, blocks=1))
    torch.manual_seed(0)
    linear, tanh = net(8, 16, 1, **small).eval(), net(8, 16, 1, **small, output_tanh=True).eval()
    assert not linear.output_tanh  # the class default: the reference's output (old checkpoints keep it)
    tanh.load_state_dict(linear.state_dict())
    with torch.no_grad():
        for p in linear.parameters():  # open R3GAN's zero-initialised last convs so the output is not constant
            p.add_(torch.randn_like(p) * 0.1)
        tanh.load_state_dict(linear.state_dict())
        z = torch.randn(4, 8)
        options = {"noise_mode": "const"} if arch == "stylegan2" else {}
        x, y = linear(z, **options), tanh(z, **options)
    assert_close(y, torch.tanh(x))
    assert y.abs().max() <= 1 < x.abs().max()
