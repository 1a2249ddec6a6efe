"""The residual, self-modulated, BigGAN and StyleGAN families against hand-computed values."""
import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from gan_lightning.nets import biggan, resnet, selfmod, stylegan
from gan_lightning.nets.blocks import ConditionalBatchNorm2d, SelfAttention, truncate_z
from gan_lightning.objectives.regularizers import Orthogonal

TINY = {"channels": 4, "max_channels": 4}


def test_sngan_cifar10_generator_has_the_papers_size():
    # z_dim=128, 32x32x3, width 256 (Miyato et al. 2018, Table 4), by hand:
    #   linear 128 -> 4*4*256 with bias:                         128 * 4096 + 4096           =   528,384
    #   per up-block: 2 BN(256) (2 * 512), 2 conv3x3 256->256 with bias (2 * 590,080),
    #                 shortcut conv1x1 256->256 with bias (65,792)                            = 1,246,976
    #   3 blocks                                                                              = 3,740,928
    #   output BN(256) 512 + conv3x3 256->3 with bias 6,915                                   =     7,427
    G = resnet.Generator(128, 32, 3)
    assert sum(p.numel() for p in G.parameters()) == 528_384 + 3 * 1_246_976 + 7_427 == 4_276_739


def test_resnet19_block_counts_at_128():
    G = resnet.Generator(128, 128, 3, channels=64, max_channels=1024)
    D = resnet.Discriminator(128, 3, channels=64, max_channels=1024, bottom_resolution=4, extra_blocks=1)
    assert [b.conv1.out_channels for b in G.blocks] == [1024, 512, 256, 128, 64]
    assert [b.conv1.out_channels for b in D.blocks] == [64, 128, 256, 512, 1024, 1024]
    assert [b.down for b in D.blocks] == [True] * 5 + [False]


def test_residual_scale_scales_the_residual_branch():
    torch.manual_seed(0)
    G = resnet.Generator(8, 16, 3, residual_scale=0.25, **TINY)
    block, x = G.blocks[0], torch.randn(2, 4, 4, 4)
    full = resnet.Generator(8, 16, 3, residual_scale=1.0, **TINY).blocks[0]
    full.load_state_dict(block.state_dict())
    shortcut = block.shortcut(nn.functional.interpolate(x, scale_factor=2.0))
    assert_close(block(x) - shortcut, 0.25 * (full(x) - shortcut))


def test_attention_gate_starts_at_zero_so_the_block_is_the_identity():
    torch.manual_seed(0)
    attention, x = SelfAttention(16), torch.randn(2, 16, 4, 4)
    assert attention.gate.item() == 0.0
    assert torch.equal(attention(x), x)


def test_attention_matches_the_papers_sum():
    torch.manual_seed(0)
    attention, x = SelfAttention(8), torch.randn(1, 8, 2, 3)
    attention.gate.data.fill_(0.7)
    f, g, h = (layer.weight[:, :, 0, 0] for layer in (attention.key, attention.query, attention.value))
    xs = x[0].flatten(1).T  # [HW, C]: the positions
    expected = torch.empty_like(xs)
    for j in range(len(xs)):
        beta = torch.softmax(torch.stack([(f @ xs[i]) @ (g @ xs[j]) for i in range(len(xs))]), dim=0)
        o = sum(beta[i] * (h @ xs[i]) for i in range(len(xs)))
        expected[j] = xs[j] + 0.7 * attention.out.weight[:, :, 0, 0] @ o
    assert_close(attention(x)[0].flatten(1).T, expected)


def test_projection_term_is_the_inner_product_of_embedding_and_features():
    torch.manual_seed(0)
    D = resnet.Discriminator(16, 3, c_dim=5, normalization="none", **TINY)
    x, c = torch.randn(3, 3, 16, 16), torch.tensor([4, 0, 2])
    with torch.no_grad():
        h = D.features(x)  # [3, 4]
        by_hand = torch.stack([sum(D.embed.weight[c[n], k] * h[n, k] for k in range(4)) for n in range(3)])
        assert_close(D(x, c) - D.linear(h).squeeze(1), by_hand)


def test_self_modulation_depends_on_z_in_every_bn():
    torch.manual_seed(0)
    G = selfmod.Generator(8, 16, 3, hidden=5, **TINY)
    norms = [m for m in G.modules() if isinstance(m, ConditionalBatchNorm2d)]
    assert len(norms) == 2 * G.num_blocks + 1 and all(m.modulation is not None for m in norms)
    z1, z2 = torch.randn(2, 8), torch.randn(2, 8)
    for m in norms:
        gamma1, beta1 = m.modulation(z1)
        gamma2, beta2 = m.modulation(z2)
        assert not torch.allclose(gamma1, gamma2) and not torch.allclose(beta1, beta2)
        hidden = torch.relu(m.modulation.gamma[0](z1))  # the 2-layer MLP, by hand
        assert hidden.shape == (2, 5)
        assert_close(gamma1, m.modulation.gamma[2](hidden))


def test_self_modulation_input_with_labels():
    torch.manual_seed(0)
    G = selfmod.Generator(8, 16, 3, c_dim=3, **TINY)
    z, c = torch.randn(2, 8), torch.tensor([2, 0])
    E, E2 = G.embed_shift.weight, G.embed_scale.weight
    assert_close(G.modulation_input(z, c), z + E[c] + E2[c] * z)


def test_biggan_blocks_get_the_shared_embedding_and_their_own_z_chunk():
    torch.manual_seed(0)
    G = biggan.Generator(16, 32, 3, c_dim=4, shared_dim=6, **TINY)
    assert G.chunks == [4, 4, 4, 4]
    z, c = torch.randn(2, 16), torch.tensor([1, 3])
    z0, ys = G.block_inputs(z, c)
    assert_close(z0, z[:, :4])
    for i, y in enumerate(ys[:-1]):
        assert_close(y, torch.cat([G.shared.weight[c], z[:, 4 * (i + 1): 4 * (i + 2)]], dim=1))
    assert ys[-1] is None  # the output BN is unconditional


def test_truncation_of_z_stays_in_range_and_keeps_small_values():
    z = torch.linspace(-4, 4, 101)
    t = truncate_z(z, 1.0)
    assert t.abs().max() <= 1.0 and torch.all(t[1:] >= t[:-1])  # in range, monotone
    assert_close(truncate_z(z, 30.0), z)  # a far threshold changes nothing


def test_orthogonal_regularization_by_hand():
    net = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Embedding(4, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]]))
    # W W^T = [[5, 2], [2, 10]]: off-diagonal squares 2 * 2^2 = 8, halved (BigGAN-PyTorch's strength); the
    # embedding is excluded
    penalty = Orthogonal(generator_weight=0.5).generator_penalty(net)
    assert_close(penalty, torch.tensor(2.0))
    # the gradient is utils.ortho's 2 beta (W W^T (.) (1 - I)) W = 2 * 0.5 * [[0, 2], [2, 0]] @ W
    penalty.backward()
    w = net[0].weight.detach()
    assert_close(net[0].weight.grad, torch.tensor([[0.0, 2.0], [2.0, 0.0]]) @ w)


def test_adain_normalizes_each_sample_and_channel_on_its_own():
    torch.manual_seed(0)
    x, style = torch.randn(3, 2, 5, 5) * 4 + 1, torch.randn(3, 4)
    out = stylegan.adain(x, style)
    assert_close(out.mean(dim=(2, 3)), style[:, 2:], atol=1e-5, rtol=0)  # shift yb
    assert_close(out.std(dim=(2, 3), unbiased=False), (1 + style[:, :2]).abs(), atol=1e-4, rtol=0)  # scale 1 + ys
    assert_close(stylegan.adain(x[1:2], style[1:2]), out[1:2])  # no statistics shared across the batch


def tiny_stylegan(**options) -> stylegan.Generator:
    return stylegan.Generator(8, 16, 3, w_dim=6, channels=4, max_channels=4, mapping_layers=2, **options)


def test_truncation_psi_zero_returns_the_mean_w_and_w_avg_is_tracked_in_training():
    torch.manual_seed(0)
    G = tiny_stylegan(mixing_prob=0.0, w_avg_beta=0.9)
    z = torch.randn(4, 8)
    G.train()
    G.styles(z)
    assert_close(G.w_avg, 0.1 * G.mapping(z).mean(dim=0))  # lerp from 0 with beta 0.9
    G.eval()
    before = G.w_avg.clone()
    assert_close(G.styles(z, truncation=0.0), before.expand(4, G.num_ws, 6))
    assert_close(G.styles(z, truncation=1.0), G.mapping(z)[:, None].expand(4, G.num_ws, 6))
    assert_close(G.styles(z, truncation=0.5), (before + 0.5 * (G.mapping(z) - before))[:, None].expand(4, G.num_ws, 6))
    assert torch.equal(G.w_avg, before)  # not updated outside training


def test_style_mixing_swaps_w_at_the_crossover_layer():
    ws, w2 = torch.zeros(2, 6, 3), torch.ones(2, 3)
    mixed = stylegan.mix_styles(ws, w2, 4)
    assert torch.equal(mixed[:, :4], ws[:, :4]) and torch.equal(mixed[:, 4:], torch.ones(2, 2, 3))
    torch.manual_seed(1)
    G = tiny_stylegan(mixing_prob=1.0).train()
    seen = []
    for layer in G.layers:
        layer.register_forward_hook(lambda m, args, out: seen.append(args[1]))
    z = torch.randn(2, 8)
    G(z)
    w1 = G.mapping(z)
    first = [torch.allclose(w, w1) for w in seen]
    cutoff = first.index(False)  # every layer before the crossover gets w1, every layer from it a second w
    assert 1 <= cutoff < G.num_ws and all(first[:cutoff]) and not any(first[cutoff:])
    assert all(torch.equal(w, seen[cutoff]) for w in seen[cutoff:])


def test_stylegan_noise_is_per_pixel_with_a_learned_scale_per_channel():
    torch.manual_seed(0)
    layer = stylegan.StyleLayer(2, 2, 4)
    assert torch.equal(layer.noise_strength, torch.zeros(2))
    x, w = torch.randn(1, 2, 3, 3), torch.randn(1, 4)
    torch.manual_seed(5)
    quiet = layer(x, w)
    layer.noise_strength.data.fill_(1.0)
    torch.manual_seed(5)
    assert not torch.allclose(layer(x, w), quiet)


def test_mapping_uses_eight_equalized_layers_with_lr_multiplier():
    G = stylegan.Generator(8, 16, 3, w_dim=6, channels=4, max_channels=4)
    assert len(G.mapping.layers) == 8
    assert all(math.isclose(layer.bias_gain, 0.01) for layer in G.mapping.layers)
    assert G.const.shape == (1, 4, 4, 4) and G.num_ws == 2 * 3  # 4x4, 8x8, 16x16


@pytest.mark.parametrize("family", [resnet, biggan, stylegan])
def test_generators_take_a_truncation(family):
    torch.manual_seed(0)
    options = {"w_dim": 6} if family is stylegan else {}
    G = family.Generator(8, 16, 3, c_dim=2, channels=4, max_channels=4, **options).eval()
    z, c = torch.randn(3, 8), torch.tensor([0, 1, 1])
    out = G(z, c, truncation=0.5)
    assert out.shape == (3, 3, 16, 16) and torch.isfinite(out).all()


def test_biggan_32_discriminator_is_4ch_wide_as_biggan_pytorch(tmp_path):
    # BigGAN-PyTorch BigGAN.py D_arch[32] at D_ch 64: in [3, 256, 256, 256], out [256] * 4, downsample
    # [T, T, F, F]. Parameters by hand without attention, 10 classes:
    #   block 1: conv3x3 3->256 (6,912 + 256), conv3x3 256->256 (589,824 + 256), 1x1 (768 + 256) =   598,272
    #   block 2: 2 conv3x3 256->256 (2 * 590,080), shortcut 1x1 256->256 (65,792)                = 1,245,952
    #   blocks 3, 4: 2 conv3x3 256->256 each, identity shortcut                                  = 2,360,320
    #   linear 256->1 (257), projection embedding 10 x 256 (2,560)                               =     2,817
    from hydra.utils import instantiate

    from gan_lightning.run.config import compose

    cfg = compose(["arch=biggan", "dataset=cifar10", "c_dim=10", "arch.discriminator.attention_resolution=0"], tmp_path)
    D = instantiate(cfg.arch.discriminator)
    assert [b.conv1.out_channels for b in D.blocks] == [256] * 4
    assert [b.down for b in D.blocks] == [True, True, False, False]
    assert sum(p.numel() for p in D.parameters()) == 598_272 + 1_245_952 + 2_360_320 + 2_817 == 4_207_361


def xavier_bound(layer: nn.Module, gain: float) -> float:
    """Glorot uniform's limit, gain * sqrt(6 / (fan_in + fan_out)), for a conv, linear or embedding weight."""
    w = layer.weight
    receptive = w[0, 0].numel() if w.dim() > 2 else 1
    fan_in, fan_out = w.shape[1] * receptive, w.shape[0] * receptive
    return gain * math.sqrt(6 / (fan_in + fan_out))


def test_sngan_init_is_glorot_sqrt2_in_residual_convs_and_1_elsewhere():
    # pfnet-research/sngan_projection (gen_models/resblocks.py, dis_models/resblocks.py: GlorotUniform(sqrt(2)) for
    # c1, c2 and GlorotUniform() for c_sc; resnet_32.py, snresnet_32.py: GlorotUniform() for l1, c5, l5, l_y) and
    # kwotsin/mimicry (modules/resblocks.py, nets/sngan/sngan_32.py, nets/cgan_pd/cgan_pd_32.py) alike.
    # A uniform on [-b, b] has std b / sqrt(3); the bounds are computed from each layer's fans.
    torch.manual_seed(0)
    G = resnet.Generator(16, 16, 3, channels=64, max_channels=64)
    D = resnet.Discriminator(16, 3, c_dim=10, channels=64, max_channels=64, normalization="none")
    residual = [conv for b in [*G.blocks, *D.blocks] for conv in (b.conv1, b.conv2)]
    shortcuts = [b.shortcut for b in [*G.blocks, *D.blocks] if b.shortcut is not None]
    single = [*shortcuts, G.project, G.out, D.linear, D.embed]
    for layers, gain in ((residual, math.sqrt(2)), (single, 1.0)):
        for layer in layers:
            bound, w = xavier_bound(layer, gain), layer.weight.detach()
            assert w.abs().max() <= bound
            if w.numel() >= 1000:
                assert_close(w.std().item(), bound / math.sqrt(3), rtol=0.05, atol=0)
            if getattr(layer, "bias", None) is not None:
                assert torch.equal(layer.bias, torch.zeros_like(layer.bias))  # Chainer's default bias, 0
