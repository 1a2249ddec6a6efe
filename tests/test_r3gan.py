"""arch=r3gan on its own: shapes, gradients, init scale, resampling and bad input (parity: test_parity_r3gan.py)."""
import itertools
import math

import pytest
import torch
from torch.testing import assert_close

from gan_lightning.errors import ConfigError
from gan_lightning.nets import r3gan
from gan_lightning.run.config import compose

NARROW = dict(width=8, cardinality=2, blocks=1)


@pytest.mark.parametrize("img_resolution, img_channels, c_dim", [(16, 3, 0), (32, 1, 0), (16, 3, 4), (4, 2, 0)])
def test_shapes_and_gradients_to_every_parameter(img_resolution, img_channels, c_dim):
    torch.manual_seed(0)
    G = r3gan.Generator(8, img_resolution, img_channels, c_dim=c_dim, **NARROW)
    D = r3gan.Discriminator(img_resolution, img_channels, c_dim=c_dim, **NARROW)
    with torch.no_grad():  # the zero-initialised last convs block every gradient above them: open them
        for name, p in itertools.chain(G.named_parameters(), D.named_parameters()):
            if name.endswith("conv3.weight") or name.endswith("bias"):
                p.normal_(0, 0.1)
    c = torch.arange(4) % c_dim if c_dim else None
    fake = G(torch.randn(4, 8), c)
    assert fake.shape == (4, img_channels, img_resolution, img_resolution) and torch.isfinite(fake).all()
    logits = D(fake, c)
    assert logits.shape == (4,) and torch.isfinite(logits).all()
    logits.sum().backward()
    for name, p in itertools.chain(G.named_parameters(prefix="G"), D.named_parameters(prefix="D")):
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_fixup_init_scale():
    torch.manual_seed(0)
    G = r3gan.Generator(8, 32, 3, width=64, cardinality=4, blocks=[1, 2, 3, 2])  # 8 blocks
    block = G.stages[2][0]
    gain = math.sqrt(2 / 1.04) * 8 ** -0.25  # leaky ReLU gain times L^(-1/4)
    assert_close(block.conv1.weight.std().item(), gain / math.sqrt(64), rtol=0.05, atol=0)
    assert_close(block.conv2.weight.std().item(), gain / math.sqrt(32 * 9), rtol=0.05, atol=0)  # 128 / 4 per group
    assert block.conv3.weight.abs().sum() == 0 and block.act1.bias.abs().sum() == 0
    x = torch.randn(2, 64, 16, 16)
    assert torch.equal(block(x), x)  # every block starts as the identity


def test_resampling_filter_by_hand():
    assert_close(r3gan.lowpass_kernel([1, 2, 1]), torch.outer(*[torch.tensor([1.0, 3, 3, 1]) / 8] * 2))
    down, up = r3gan.Resample(up=False), r3gan.Resample(up=True)
    x = torch.full((1, 2, 8, 8), 3.0)
    assert_close(up(x)[..., 1:-1, 1:-1], torch.full((1, 2, 14, 14), 3.0))  # constants stay (away from the border)
    assert_close(down(x)[..., 1:-1, 1:-1], torch.full((1, 2, 2, 2), 3.0))
    # one pixel down: output (1, 1) sees inputs 1..4 per axis with weights [1, 3, 3, 1] / 8
    x = torch.zeros(1, 1, 8, 8)
    x[0, 0, 2, 4] = 1.0
    assert_close(down(x)[0, 0, 1, 1], torch.tensor(3 / 8 * 1 / 8))


def test_conditioning_by_embedding():
    torch.manual_seed(0)
    G = r3gan.Generator(8, 16, 3, c_dim=5, embed_dim=6, **NARROW)
    D = r3gan.Discriminator(16, 3, c_dim=5, embed_dim=7, **NARROW)
    z, c = torch.randn(2, 8), torch.tensor([4, 1])
    assert G.transitions[0].linear.in_features == 8 + 6
    assert_close(G(z, c), G.to_image(G.stages[2](G.transitions[2](G.stages[1](G.transitions[1](
        G.stages[0](G.transitions[0](torch.cat([z, G.embed.weight[c]], 1)))))))))
    x = torch.randn(2, 3, 16, 16)
    h = D.from_image(x)
    for stage, transition in zip(D.stages, D.transitions):
        h = transition(stage(h))
    assert h.shape == (2, 7)
    assert_close(D(x, c), (h * D.embed.weight[c]).sum(1))
    with pytest.raises(ValueError, match="conditional"):
        G(z)


@pytest.mark.parametrize("kwargs, message", [
    (dict(width=[8, 8]), r"arch.generator.width=\[8, 8\] is not supported; accepted: .* a list of 3"),
    (dict(blocks=0), "arch.generator.blocks=0 is not supported"),
    (dict(cardinality=3), r"arch.generator.cardinality=3 .* divisors of width \* expansion \(16\)"),
    (dict(expansion=0), "arch.generator.expansion=0 is not supported"),
    (dict(output_tanh=True, output_gain=0.9),
     r"arch.generator.output_gain=0.9 is not supported; accepted: a number >= 1"),
    (dict(output_gain=1.1), "arch.generator.output_gain=1.1 is not supported with output_tanh=false"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        r3gan.Generator(8, 16, 3, **{**NARROW, **kwargs})


def test_output_gain_scales_the_tanh(tmp_path):
    """output_gain * tanh: with gain 1.1 the data's -1 and 1 lie at a finite pre-tanh value (+-1.52), so G is
    not pushed into the tanh's flat tails (experiment=r3gan_mnist)."""
    torch.manual_seed(0)
    plain = r3gan.Generator(8, 16, 1, **NARROW, output_tanh=True)
    with torch.no_grad():
        for p in plain.parameters():  # open the zero-initialised last convs so the output is not constant
            p.add_(torch.randn_like(p))
    scaled = r3gan.Generator(8, 16, 1, **NARROW, output_tanh=True, output_gain=1.1)
    scaled.load_state_dict(plain.state_dict())
    z = torch.randn(4, 8)
    assert_close(scaled(z), 1.1 * plain(z))
    assert 1 < scaled(z).abs().max() <= 1.1
    gains = {name: compose(overrides, tmp_path / name).arch.generator.output_gain
             for name, overrides in (("arch", ["arch=r3gan"]), ("preset", ["experiment=r3gan_mnist"]))}
    assert gains == {"arch": 1.0, "preset": 1.1}


def test_bad_resolution():
    with pytest.raises(ConfigError, match="arch.discriminator.img_resolution=24 is not supported"):
        r3gan.Discriminator(24, 3, **NARROW)


def test_conditional_rpgan_r1_r2_run_trains(tiny_cfg):
    from gan_lightning.run.build import build

    cfg = tiny_cfg("r3gan", "dataset.conditional=true", "dataset.resolution=16", "loss=rpgan", "regularizer=[r1,r2]",
                   "total_kimg=0.016", "metrics=none")
    datamodule, module, trainer = build(cfg)
    before = [p.detach().clone() for p in module.generator.parameters()]
    trainer.fit(module, datamodule=datamodule)
    assert module.batches == 2 and module.generator.c_dim == 10
    assert {"loss/d", "loss/g", "reg/r1", "reg/r2"} <= set(module.last_logs)
    assert all(torch.isfinite(v).all() for v in module.last_logs.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, module.generator.parameters()))
