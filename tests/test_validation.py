"""Bad values as a user types them (negative, zero, a string; a missing, empty or wrong file) end in one line
that names the key, the value and what is accepted; none reaches training."""
import pytest

from gan_lightning.errors import ConfigError, check_number
from gan_lightning.run.build import run
from tests.conftest import compose, tiny

TOY = ("mlp", "dataset=ring", "metrics=none")

# (arch and its extra overrides, the bad overrides, a part of the one-line message)
CASES = [
    # the four of the issue, and the silently accepted interval
    (TOY, ["regularizer=r1", "regularizer.r1.weight=abc"], "regularizer.r1.weight='abc' is not supported; accepted: a number >= 0"),
    (TOY, ["ckpt_path={text_file}"], "is not a gan_lightning checkpoint that loads safely (not a complete torch.save file"),
    (TOY, ["z_dim=-3"], "z_dim=-3 is not supported; accepted: an integer >= 1"),
    (TOY, ["optimizer.generator.lr=-1"], "optimizer.generator.lr=-1 is not supported; accepted: a number >= 0"),
    (TOY, ["callbacks.preview.every_kimg=-1"], "callbacks.preview.every_kimg=-1 is not supported; accepted: a number >= 0"),
    # top-level scalars
    (TOY, ["z_dim=0"], "z_dim=0 is not supported; accepted: an integer >= 1"),
    (TOY, ["seed=-1"], "seed=-1 is not supported; accepted: an integer >= 0 and <= 4294967295"),
    (TOY, ["batch_size=abc"], "batch_size='abc' is not supported; accepted: an integer >= 1"),
    (TOY, ["total_g_steps=0"], "total_g_steps=0 is not supported; accepted: an integer >= 1 or null"),
    (TOY, ["total_kimg=-1"], "total_kimg=-1 is not supported; accepted: a number > 0 or null"),
    (TOY, ["c_dim=-1"], "c_dim=-1 is not supported; accepted: an integer >= 0"),
    # optimizer, loss, regularizer
    (TOY, ["optimizer.discriminator.lr=abc"], "optimizer.discriminator.lr='abc' is not supported"),
    (TOY, ["optimizer.generator.betas=[1.5,0.9]"], "optimizer.generator.betas[0]=1.5 is not supported; accepted: a number >= 0 and <= 1"),
    (TOY, ["optimizer.generator.betas=abc"], "optimizer.generator.betas='abc' is not supported; accepted: 2 numbers"),
    (TOY, ["loss.drift=-1"], "loss.drift=-1 is not supported; accepted: a number >= 0"),
    (TOY, ["loss=lsgan", "loss.b=abc"], "loss.b='abc' is not supported; accepted: a number"),
    (TOY, ["regularizer=gp", "regularizer.gp.interval=0"], "regularizer.gp.interval=0 is not supported; accepted: an integer >= 1"),
    (TOY, ["regularizer=clip", "regularizer.clip.clip=0"], "regularizer.clip.clip=0 is not supported; accepted: a number > 0"),
    (TOY, ["regularizer=ortho", "regularizer.ortho.generator_weight=-1"], "regularizer.ortho.generator_weight=-1 is not supported"),
    # callbacks and metrics
    (TOY, ["callbacks.log.every_kimg=abc"], "callbacks.log.every_kimg='abc' is not supported; accepted: a number >= 0"),
    (TOY, ["callbacks.checkpoint.every_kimg=-1"], "callbacks.checkpoint.every_kimg=-1 is not supported"),
    (TOY, ["callbacks.checkpoint.signals=[SIGFOO]"], "callbacks.checkpoint.signals='SIGFOO' is not supported; accepted: SIGTERM"),
    (TOY, ["callbacks.preview.num_samples=0"], "callbacks.preview.num_samples=0 is not supported; accepted: an integer >= 1 or null"),
    (TOY, ["callbacks.preview.standing_batches=0"], "callbacks.preview.standing_batches=0 is not supported; accepted: an integer >= 1"),
    (TOY, ["callbacks.ema.halflife_kimg=-1"], "callbacks.ema.halflife_kimg=-1 is not supported; accepted: a number >= 0"),
    (TOY, ["callbacks.ema.rampup=0"], "callbacks.ema.rampup=0 is not supported; accepted: a number > 0 or null"),
    (TOY, ["callbacks.progress.refresh_rate=-1"], "callbacks.progress.refresh_rate=-1 is not supported"),
    (TOY, ["callbacks.lr_decay.start=abc"], "callbacks.lr_decay.start='abc' is not supported; accepted: a number >= 0 and <= 1"),
    (TOY, ["metrics.every_kimg=-1"], "metrics.every_kimg=-1 is not supported; accepted: a number >= 0"),
    (TOY, ["metrics.batch_size=0"], "metrics.batch_size=0 is not supported; accepted: an integer >= 1"),
    (TOY, ["metrics.n_samples=1"], "metrics.n_samples=1 is not supported; accepted: an integer >= 2"),
    # divergence options, data
    (TOY, ["module.on_divergence=retry"], "module.on_divergence='retry' is not supported; accepted: stop, rollback"),
    (TOY, ["module.rollback_lr_factor=2"], "module.rollback_lr_factor=2 is not supported; accepted: a number > 0 and <= 1"),
    (TOY, ["dataset.num_items=0"], "dataset.num_items=0 is not supported; accepted: an integer >= 1"),
    (("dcgan",), ["dataset=folder", "dataset.root={folder}", "dataset.resolution=16", "dataset.on_corrupt=ignore"],
     "dataset.on_corrupt='ignore' is not supported; accepted: error, skip"),
    # nets: widths, group sizes, multipliers
    (("dcgan", "dataset.resolution=16"), ["arch.generator.channels=0"], "arch.generator.channels=0 is not supported; accepted: an integer >= 1"),
    (("dcgan", "dataset.resolution=16"), ["arch.discriminator.max_channels=abc"], "arch.discriminator.max_channels='abc' is not supported"),
    (("resnet", "dataset.resolution=16"), ["arch.discriminator.extra_blocks=-1"], "arch.discriminator.extra_blocks=-1 is not supported; accepted: an integer >= 0"),
    (("stylegan", "dataset.resolution=16"), ["arch.generator.w_dim=0"], "arch.generator.w_dim=0 is not supported"),
    (("stylegan", "dataset.resolution=16"), ["arch.generator.mapping_lr_multiplier=0"], "arch.generator.mapping_lr_multiplier=0 is not supported; accepted: a number > 0"),
    (("pggan", "dataset.resolution=8"), ["arch.discriminator.mbstd_group_size=0"], "arch.discriminator.mbstd_group_size=0 is not supported"),
    (("began", "dataset.resolution=8"), ["arch.discriminator.encoder_widen=last"], "arch.discriminator.encoder_widen='last' is not supported; accepted: subsample, first"),
    (("began", "dataset.resolution=8"), ["arch.discriminator.encoder_convs=1"], "arch.discriminator.encoder_convs=1 is not supported; accepted: an integer >= 2"),
    (TOY, ["arch.discriminator.dropout=abc"], "arch.discriminator.dropout='abc' is not supported"),
    # paths: missing, empty, a wrong file, a folder without checkpoints
    (TOY, ["ckpt_path={missing}"], "does not exist; accepted: a checkpoint file"),
    (TOY, ["ckpt_path="], "ckpt_path='' does not exist"),
    (TOY, ["ckpt_path={empty_file}"], "is not a gan_lightning checkpoint that loads safely"),
    (TOY, ["ckpt_path={folder}"], "holds no checkpoint that loads; accepted:"),
    (("dcgan",), ["dataset=folder", "dataset.root={missing}"], "does not exist or is not a folder or archive"),
    (("dcgan",), ["dataset=folder", "dataset.root={text_file}"], "does not exist or is not a folder or archive"),
    (("dcgan",), ["dataset=folder", "dataset.root={empty_folder}"], "contains no images"),
]


@pytest.mark.parametrize("arch,bad,message", CASES, ids=[" ".join(bad) for _, bad, _ in CASES])
def test_a_bad_value_ends_in_one_line_naming_key_value_and_what_is_accepted(arch, bad, message, tmp_path):
    (tmp_path / "notes.txt").write_text("not a checkpoint")
    (tmp_path / "empty.ckpt").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    folder = tmp_path / "images"
    folder.mkdir()
    from PIL import Image

    Image.new("RGB", (16, 16)).save(folder / "a.png")
    paths = {"text_file": tmp_path / "notes.txt", "empty_file": tmp_path / "empty.ckpt", "missing": tmp_path / "nope",
             "folder": folder, "empty_folder": tmp_path / "empty"}
    args = [*tiny(*arch), *(override.format(**paths) for override in bad)]
    with pytest.raises(SystemExit) as stop:
        run(compose(args, tmp_path / "run"))
    text = str(stop.value)
    assert text.startswith("error: ") and message in text and "\n" not in text, text
    assert not list((tmp_path / "run").rglob("*.ckpt"))  # it stopped before training


def test_check_number_says_what_is_accepted():
    assert check_number("x", 3, 1, integer=True) == 3 and check_number("x", None, 0, nullable=True) is None
    for value, kwargs, accepted in ((0, {"low": 0, "above": True}, "a number > 0"),
                                    (2.5, {"low": 0, "high": 1}, "a number >= 0 and <= 1"),
                                    (1.5, {"low": 1, "integer": True}, "an integer >= 1"),
                                    (True, {}, "a number"), (float("nan"), {"low": 0}, "a number >= 0")):
        with pytest.raises(ConfigError, match=f"^x={value!r} is not supported; accepted: {accepted}$"):
            check_number("x", value, **kwargs)
