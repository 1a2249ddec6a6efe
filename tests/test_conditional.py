"""Class-conditional runs end to end: c_dim from the data, one class per preview row, sampling a chosen class."""
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from gan_lightning.errors import ConfigError
from gan_lightning.run.build import build
from gan_lightning.training.callbacks.preview import Preview


def test_conditional_mnist_sets_c_dim_trains_and_previews_one_class_per_row(tiny_cfg, tmp_path):
    cfg = tiny_cfg("resnet", "dataset.conditional=true", "dataset.resolution=16", "total_kimg=0.016",
                   "callbacks.preview.num_samples=20")
    datamodule, module, trainer = build(cfg)
    assert cfg.c_dim == 10 and module.generator.c_dim == module.discriminator.c_dim == 10
    trainer.fit(module, datamodule=datamodule)
    assert module.batches == 2
    grid = Image.open(tmp_path / "samples" / "fakes000000.016.png")
    assert grid.size == (2 * 18 + 2, 10 * 18 + 2)  # 10 rows (classes) of 20 // 10 = 2 samples, 16 px + 2 px gaps
    images = module.generate(6, c=torch.full((6,), 7), seed=1, truncation=1.0)
    assert images.shape == (6, 1, 16, 16)
    assert torch.equal(images, module.generate(6, c=torch.full((6,), 7), seed=1, truncation=1.0))


def test_preview_inputs_put_one_class_per_row_with_the_same_z_down_each_column():
    preview = Preview(dirpath="unused")
    module = SimpleNamespace(z_dim=2, device=torch.device("cpu"), generator=SimpleNamespace(c_dim=3))
    z, c, cols = preview.fixed_inputs(module)
    assert cols == 8 and c.tolist() == [0] * 8 + [1] * 8 + [2] * 8
    assert torch.equal(z[:8], z[8:16]) and torch.equal(z[:8], z[16:])


@pytest.mark.parametrize("overrides,message", [
    (["dataset.conditional=true"], "c_dim=10 is not supported by dcgan, which takes no labels"),
    (["c_dim=3"], "c_dim=3 needs labels; accepted: 0, or dataset.conditional=true"),
    (["dataset.conditional=true", "c_dim=3"], "c_dim=3 does not match the 10 classes"),
])
def test_bad_conditional_settings_are_one_line_errors(tiny_cfg, overrides, message):
    with pytest.raises(Exception) as error:
        build(tiny_cfg("dcgan", *overrides))
    cause = error.value
    while not isinstance(cause, ConfigError):
        cause = cause.__cause__
    assert message in str(cause)


def test_stylegan_generate_with_a_seed_is_reproducible_despite_its_noise_inputs(tiny_cfg):
    from gan_lightning.run.build import build_module

    module = build_module(tiny_cfg("stylegan", "dataset.resolution=16", "dataset.conditional=true", "c_dim=10"))
    c = torch.arange(4)
    first = module.generate(4, c=c, seed=3, truncation=0.7)
    assert torch.equal(first, module.generate(4, c=c, seed=3, truncation=0.7))
    assert not torch.equal(first, module.generate(4, c=c, seed=4, truncation=0.7))
