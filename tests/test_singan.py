"""SinGAN: the pyramid's sizes and widths, one scale at a time with the coarser frozen, the noise amplitude, the
penalties by hand, the single-image data and its errors, a tiny run with its samples, and an exact resume."""
import csv

import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image
from torch.testing import assert_close

from gan_lightning.data.single_image import (
    BUNDLED_IMAGE,
    SingleImageDataModule,
    image_size,
)
from gan_lightning.errors import ConfigError
from gan_lightning.nets.singan import (
    Discriminator,
    Generator,
    pyramid_sizes,
    resize,
    scale_widths,
)
from gan_lightning.objectives.generator_penalties import Reconstruction
from gan_lightning.objectives.regularizers import PatchGradientPenalty
from gan_lightning.training.callbacks.singan import ScaleSchedule, montage, pyramid_kimg
from tests.conftest import compose, tiny
from tests.test_module import fit


def test_pyramid_sizes_run_from_min_size_to_the_image_by_a_factor_of_at_least_0_75():
    r = (25 / 86) ** (1 / 5)  # ceil(log(25 / 86) / log(0.75)) = 5 steps
    sizes = pyramid_sizes([86, 128])
    assert sizes == [(round(86 * r ** (5 - k)), round(128 * r ** (5 - k))) for k in range(6)]
    assert sizes[0] == (25, 37) and sizes[-1] == (86, 128) and 0.75 <= r < 0.8
    assert pyramid_sizes([30, 25]) == [(30, 25)]  # the image is the coarsest scale already
    assert pyramid_sizes(OmegaConf.create([86, 128])) == sizes  # as a checkpoint's config gives it
    assert scale_widths(9, 32, 128, 4) == [32] * 4 + [64] * 4 + [128]


@pytest.mark.parametrize("args,message", [
    (([24, 60],), "arch.min_size=25 is larger than the image's short side (24 px"),
    (([64, 64], 25, 1.0), "arch.scale_factor=1.0 is not supported"),
    (([64],), "arch.img_size=[64] is not supported"),
])
def test_bad_pyramids_name_the_key(args, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        pyramid_sizes(*args)


def nets(width: int = 4) -> tuple[Generator, Discriminator, torch.Tensor]:
    torch.manual_seed(0)
    G = Generator([27, 40], min_size=12, width=width, max_width=2 * width, width_every=2)
    D = Discriminator([27, 40], min_size=12, width=width, max_width=2 * width, width_every=2)
    real = torch.rand(1, 3, 27, 40) * 2 - 1
    return G, D, real


def test_five_3x3_convs_give_a_receptive_field_of_11_pixels():
    G, D, _ = nets()
    for net in (G.nets[2], D.nets[2]):
        convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
        assert [(m.kernel_size, m.stride, m.padding) for m in convs] == [((3, 3), (1, 1), (1, 1))] * 5
        assert 1 + sum(m.kernel_size[0] - 1 for m in convs) == 11


def test_each_scale_adds_a_residual_only_the_current_scale_learns_and_the_noise_follows_the_rmse():
    G, D, real = nets()
    assert G.sizes == [(12, 18), (16, 23), (21, 31), (27, 40)] and G.widths == [4, 4, 8, 8]
    assert G.z_dim == 12 * 18 + 3 * (16 * 23 + 21 * 31 + 27 * 40)  # a grey noise map at the coarsest scale
    G.grow(1, real)
    D.grow(1)
    # entering scale 1 copied scale 0's weights (same width) and set its noise from the reconstruction error
    assert all(torch.equal(a, b) for a, b in zip(G.nets[1].state_dict().values(), G.nets[0].state_dict().values()))
    below = resize(G.reconstruct(0), (16, 23))
    assert_close(G.amps[1], 0.1 * (resize(real, (16, 23)).clamp(-1, 1) - below).square().mean().sqrt())
    z = torch.randn(2, G.z_dim)
    fake = G(z)
    noise = z[:, 216 : 216 + 3 * 16 * 23].reshape(2, 3, 16, 23)
    coarse = resize(G.nets[0](G.amps[0] * z[:, :216].reshape(2, 1, 12, 18).expand(2, 3, 12, 18)), (16, 23))
    assert_close(fake, coarse + G.nets[1](coarse + G.amps[1] * noise))
    D(fake).sum().backward()
    assert [k for k, net in enumerate(G.nets) if any(p.grad is not None for p in net.parameters())] == [1]
    assert [k for k, net in enumerate(D.nets) if any(p.grad is not None for p in net.parameters())] == [1]
    G.grow(2, real)  # width 4 -> 8: a fresh scale
    assert not torch.equal(G.nets[2][0][0].weight[:4], G.nets[1][0][0].weight)
    state = G.state_dict()
    amps = G.amps.clone()
    G.grow(2, -real)  # the scale is entered once: nothing changes
    assert torch.equal(G.amps, amps) and state["_extra_state"].item() == 2
    assert G(torch.randn(3, G.z_dim)).shape == (3, 3, 21, 31) and D(torch.zeros(3, 3, 21, 31)).shape == (3,)
    assert G.sample(2, 1.0, 2.0).shape == (2, 3, 21, 62) and G.reconstruct().shape == (1, 3, 21, 31)


def test_norm_batch_is_the_official_batchnorm_finished_scales_and_sampling_on_running_statistics():
    torch.manual_seed(0)
    G = Generator([27, 40], min_size=12, width=4, max_width=8, width_every=2, norm="batch")
    real = torch.rand(1, 3, 27, 40) * 2 - 1
    modes = []
    for net in G.nets:
        net.register_forward_hook(lambda m, i, o: modes.append(m.training))
    G.train()
    for _ in range(3):
        G(torch.randn(1, G.z_dim))  # scale 0 trains: batch statistics, and its running ones move
    assert modes == [True] * 3 and int(G.nets[0][0][1].num_batches_tracked) == 3
    running = G.nets[0][0][1].running_mean.clone()
    G.grow(1, real)
    assert torch.equal(G.nets[0][0][1].running_mean, running)  # the noise amplitude's reconstruction froze it
    modes.clear()
    z = torch.randn(2, G.z_dim)
    fake = G(z)  # scale 0 finished: eval mode (running statistics), scale 1 trains; the modes come back after
    assert modes == [False, True] and all(net.training for net in G.nets)
    assert torch.equal(G.nets[0][0][1].running_mean, running)
    coarse = G.nets[0].eval()(G.amps[0] * z[:, :216].reshape(2, 1, 12, 18).expand(2, 3, 12, 18))
    G.nets[0].train()
    coarse = resize(coarse, (16, 23))
    expected = coarse + G.nets[1](coarse + G.amps[1] * z[:, 216 : 216 + 3 * 16 * 23].reshape(2, 3, 16, 23))
    assert_close(fake, expected)
    G.eval()
    modes.clear()
    G.sample(2)
    assert modes == [False, False]  # sampling (G_ema, generate): every scale on running statistics
    default = Generator([27, 40], min_size=12, width=4, max_width=8, width_every=2)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in default.modules())  # instance norm by default
    with pytest.raises(ConfigError, match="arch.generator.norm='layer' is not supported; accepted: instance, batch"):
        Generator([27, 40], min_size=12, norm="layer")


def test_reconstruction_and_the_patch_gradient_penalty_by_hand():
    G, D, real = nets()
    penalty = Reconstruction(PatchGradientPenalty(weight=0.1), weight=10.0)
    small = resize(real, G.sizes[0])
    assert_close(penalty.generator_penalty(G, small), 10 * (G.reconstruct() - small).square().mean())
    assert penalty.name == "gp" and penalty.generator_name == "rec"
    fake = torch.zeros_like(small)
    torch.manual_seed(1)
    value = penalty(D, small, fake)
    torch.manual_seed(1)
    eps = torch.rand(1, 1, 1, 1)
    x = (eps * small + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(D.nets[0](x).sum(), x)  # the official code: the summed score map
    assert_close(value, 0.1 * (grad.norm(dim=1) - 1).square().mean())


def test_the_schedule_shares_the_clock_between_scales_and_decays_the_lr(tmp_path):
    schedule = ScaleSchedule([27, 40], kimg_per_scale=0.01, min_size=12)
    assert [schedule.scale_at(n) for n in (0, 9, 10, 29, 30, 10_000)] == [0, 0, 1, 2, 3, 3]
    assert [schedule.lr_factor_at(n) for n in (0, 7, 8, 9, 10, 18)] == [1, 1, 0.1, 0.1, 1, 0.1]
    assert pyramid_kimg([27, 40], 12, 0.75, 0.01) == 0.04
    assert compose(["experiment=singan"], tmp_path).total_kimg == 2.0  # the bundled photo at 64x96: 5 scales


def test_the_single_image_and_its_errors(tmp_path):
    data = SingleImageDataModule(max_size=40)
    images, labels = data.data
    assert images.shape == (1, 3, 27, 40) and images.dtype == torch.uint8 and labels is None
    assert image_size(None, 40) == [27, 40] and image_size(str(BUNDLED_IMAGE), 1000) == [171, 256]
    with pytest.raises(ConfigError, match="dataset.path='/no/such.png' does not exist"):
        image_size("/no/such.png", 40)
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(BUNDLED_IMAGE.read_bytes()[:2000])
    assert image_size(str(truncated), 64) == [43, 64]  # the header is fine
    with pytest.raises(ConfigError, match="truncated.jpg' is not a readable image"):
        SingleImageDataModule(str(truncated)).data


def logged(path, key: str) -> list[float]:
    with open(path / "csv" / "metrics.csv") as f:
        return [float(row[key]) for row in csv.DictReader(f) if row.get(key)]


# 4 scales of 4 iterations (16 images, batch_size 1)
SINGAN = tiny("singan", "experiment=singan", "batch_size=1", "total_kimg=0.016",
              "callbacks.singan.kimg_per_scale=0.004", "callbacks.checkpoint.every_kimg=0", "callbacks.log.every_kimg=0.001",
              "callbacks.singan_samples.num_samples=4", "callbacks.singan.lr_decay_at=0.5")


def test_a_tiny_run_trains_every_scale_and_writes_samples_at_two_aspect_ratios(tmp_path):
    module, trainer = fit(compose(SINGAN, tmp_path))
    assert logged(tmp_path, "schedule/scale") == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 4
    assert logged(tmp_path, "schedule/lr_factor") == pytest.approx([1, 1, 0.1, 0.1] * 4)
    assert [group["lr"] for opt in trainer.optimizers for group in opt.param_groups] == pytest.approx([5e-5] * 2)
    assert module.generator.scale == module.G_ema.scale == module.discriminator.scale == 3
    samples = tmp_path / "samples"
    sizes = {name: Image.open(samples / name).size for name in
             ("random.png", "random_1x2.png", "reconstruction.png", "singan.png")}
    assert sizes["random.png"] == (4 * 42 + 2, 29 + 2)  # 4 samples of 27x40 in a row, 2 px apart
    assert sizes["random_1x2.png"] == (2 * 82 + 2, 29 + 2)  # twice as wide
    assert sizes["singan.png"] == montage([[torch.zeros(3, 27, 40)] * 4, [torch.zeros(3, 27, 80)] * 2]).size


def test_resume_in_the_middle_of_a_scale_equals_an_uninterrupted_run(tmp_path):
    whole, whole_trainer = fit(compose(SINGAN, tmp_path / "whole"))
    first, _ = fit(compose([*SINGAN, "total_kimg=0.006"], tmp_path / "first"))
    assert (first.nimg, first.generator.scale) == (6, 1)
    ckpt = tmp_path / "first" / "checkpoints" / "last.ckpt"
    resumed, trainer = fit(compose(SINGAN, tmp_path / "second"), ckpt_path=str(ckpt))
    assert resumed.nimg == whole.nimg == 16
    expected, actual = whole.state_dict(), resumed.state_dict()
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key
    for opt_whole, opt_resumed in zip(whole_trainer.optimizers, trainer.optimizers, strict=True):
        a, b = opt_whole.state_dict(), opt_resumed.state_dict()
        assert a["param_groups"] == b["param_groups"]
        for index in a["state"]:
            for name in a["state"][index]:
                assert torch.equal(a["state"][index][name], b["state"][index][name]), (index, name)


def test_train_py_ends_with_one_line_for_an_unreadable_image(tmp_path):
    from tests.test_train import train

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    result = train(["experiment=singan", f"dataset.path={bad}", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert f"error: dataset.path='{bad}' is not a readable image (UnidentifiedImageError" in result.stderr
