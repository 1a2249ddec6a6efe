"""A run as a user lives it: console, run folder, loggers on the images-seen axis, resume from the checkpoint."""
import csv
import re

import pytest
import torch
from omegaconf import OmegaConf

from gan_lightning.errors import ConfigError
from gan_lightning.run.build import run_length
from gan_lightning.run.config import hydra_subdir, sweep_subdir
from gan_lightning.run.resume import resumable, resume_config
from gan_lightning.training.callbacks.progress import batches_for_steps
from tests.conftest import REPO, compose, tiny
from tests.test_train import train

# A toy run of 5 batches of 8 points, stopped by trainer.max_steps=10 (D + G steps), with the progress bar.
FIRST = tiny("mlp", "dataset=ring", "logger=all", "total_kimg=1", "trainer.max_steps=10",
             "trainer.enable_progress_bar=true", "callbacks.log.every_kimg=0.016", "metrics.at_end=true")


def rows(run_dir):
    with open(run_dir / "csv" / "metrics.csv", newline="") as file:
        return list(csv.DictReader(file))


def readme_table() -> list[str]:
    """The paths of README's 'What a run leaves behind' table."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## What a run leaves behind"):]
    section = section[: section.index("\n## ", 5)]
    return re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)


def scalar_and_image_steps(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0}).Reload()
    tags = events.Tags()
    scalars = {tag: [e.step for e in events.Scalars(tag)] for tag in tags["scalars"]}
    images = {tag: [e.step for e in events.Images(tag)] for tag in tags["images"]}
    return scalars, images


def test_a_run_its_folder_its_loggers_and_its_resume(tmp_path):
    run_dir = tmp_path / "run"
    first = train([*FIRST, f"hydra.run.dir={run_dir}"], tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]

    # console: the summary, the folder, one bar that reaches the end set by max_steps, the final line
    console = first.stdout + first.stderr
    for noise in ("litlogger", "GPU available", "TPU available", "FLOPs", "Epoch 0", "Training:", "anonymous",
                  "Traceback", "0/?"):
        assert noise not in console, noise
    lines = [line for line in first.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("run: arch=mlp loss=ns regularizer=none dataset=ring") and "1 kimg" in lines[0]
    assert lines[1] == f"output: {run_dir}"
    assert lines[-1].startswith("done: 0.040 kimg, 5 G steps in") and str(run_dir) in lines[-1]
    assert "G_ema at 0.04 kimg: modes" in lines[-1]  # the toy default metrics (metrics.at_end=true), in the final line
    bar = [line for line in lines if line.lstrip("\r").startswith("train:")]
    assert len(lines) - len(bar) == 3 and "5/5" in bar[-1] and "kimg=0.04" in bar[-1]  # ends where max_steps does

    # the run folder is what README's table says
    listed = readme_table()
    for entry in listed:
        if entry.startswith(("wandb", ".hydra-<n>")):
            continue  # wandb is disabled in tests; .hydra-<n> appears with the resume below
        pattern = entry.rstrip("/").replace("<kimg>", "*")
        assert list(run_dir.glob(pattern)), entry
    tops = {entry.split("/")[0] + ("/" if "/" in entry else "") for entry in listed}
    for path in run_dir.iterdir():
        assert path.name + ("/" if path.is_dir() else "") in tops, path.name
    samples = sorted(p.name for p in (run_dir / "samples").glob("fakes*.png"))
    assert samples == ["fakes000000.000.png", "fakes000000.016.png", "fakes000000.032.png", "fakes000000.040.png"]

    # scalars and images on one x-axis (images seen), each image once, no junk scalars
    losses = [r for r in rows(run_dir) if r["loss/d"]]
    assert [int(r["step"]) for r in losses] == [16, 32, 40]
    assert [float(r["progress/kimg"]) for r in losses] == [0.016, 0.032, 0.04]
    assert [int(r["step"]) for r in rows(run_dir) if r["metrics/modes"]] == [40]  # the toy default metric, at the end
    scalars, images = scalar_and_image_steps(run_dir)
    assert scalars["loss/d"] == scalars["loss/g"] == [16, 32, 40]
    assert images == {"samples/reals": [0], "samples/fakes": [0, 16, 32, 40]}
    assert not {"hp_metric", "epoch"} & set(scalars)
    log = (run_dir / "train.log").read_text()
    for part in ("config:\n", "run: arch=mlp", "kimg 0.016 batch 2 | loss/d", "done: 0.040 kimg"):
        assert part in log, part

    # resume from the checkpoint alone: the stored config, the same folder, the logs continue
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    second = train([f"ckpt_path={ckpt}", "total_kimg=0.08", "trainer.max_steps=-1"], tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resume: " in second.stdout and "total_kimg: 1 -> 0.08" in second.stdout
    assert "arch=mlp" in second.stdout and "done: 0.080 kimg, 10 G steps" in second.stdout
    assert (run_dir / ".hydra-2" / "overrides.yaml").is_file()
    assert "trainer.max_steps=10" in (run_dir / ".hydra" / "overrides.yaml").read_text()  # first launch kept
    config = OmegaConf.load(run_dir / "config.yaml")
    assert config.total_kimg == config.module.total_kimg == 0.08 and config.z_dim == 16
    assert config.arch.generator._target_ == "gan_lightning.nets.mlp.Generator"
    assert [int(r["step"]) for r in rows(run_dir) if r["loss/d"]] == [16, 32, 40, 48, 64, 80]
    assert [int(r["step"]) for r in rows(run_dir) if r["metrics/modes"]] == [40, 80]
    scalars, images = scalar_and_image_steps(run_dir)
    assert scalars["loss/d"] == [16, 32, 40, 48, 64, 80]
    assert images["samples/fakes"] == [0, 16, 32, 40, 48, 64, 80] and images["samples/reals"] == [0]
    assert torch.load(ckpt, weights_only=True)["clock"] == {"nimg": 80, "batches": 10}

    # a conflicting override is refused in one line; a finished run stops at once
    refused = train([f"ckpt_path={ckpt}", "loss=hinge", "z_dim=32", "total_kimg=0.2"], tmp_path)
    assert refused.returncode != 0 and "Traceback" not in refused.stderr
    message = refused.stderr.strip().splitlines()
    assert len(message) == 1 and "refused: loss (loss._target_:" in message[0] and "z_dim (z_dim: 16 -> 32)" in message[0]
    before = ckpt.read_bytes()
    done = train([f"ckpt_path={ckpt}"], tmp_path)
    assert done.returncode == 0 and "finished already: 0.080 kimg" in done.stdout
    assert ckpt.read_bytes() == before and len(rows(run_dir)) == 8  # 6 loss rows, 2 metric rows: nothing added


def test_resume_config_applies_allowed_overrides_and_refuses_the_rest(tmp_path):
    from gan_lightning.run.checkpoint import resolved_config

    base = tiny("mlp", "dataset=ring")
    stored = OmegaConf.create(resolved_config(compose(base, tmp_path)))
    typed = [*base, "callbacks.preview.every_kimg=2", "logger=tensorboard"]
    same, changed = resume_config(compose(typed, tmp_path), stored, typed)
    assert same.callbacks.preview.every_kimg == 2 and list(same.logger) == ["tensorboard"]
    assert same.arch.generator.hidden_sizes == [32, 32]  # the stored nets, not the defaults
    assert changed[0] == "callbacks.preview.every_kimg: 0.016 -> 2" and changed[1].startswith("logger.csv: {")
    only_ckpt = compose(["ckpt_path=/x/last.ckpt"], tmp_path)  # defaults: dcgan, mnist; the run is mlp, ring
    resumed, _ = resume_config(only_ckpt, stored, ["ckpt_path=/x/last.ckpt"])
    assert resumed.arch.generator._target_.endswith("mlp.Generator") and resumed.dataset.kind == "ring"
    for override, named in (["optimizer=ttur", "optimizer (optimizer.discriminator.betas"],
                            ["seed=3", "seed (seed: 0 -> 3)"], ["batch_size=16", "batch_size (batch_size: 8 -> 16)"],
                            ["callbacks.ema.halflife_kimg=1", "callbacks.ema.halflife_kimg"]):
        with pytest.raises(ConfigError, match=re.escape(named)):
            resume_config(compose([*base, override], tmp_path), stored, [override])
    assert resumable("callbacks.metrics.every_kimg") and resumable("trainer.devices") and not resumable("arch")


def test_the_default_mnist_recipe_is_chosen_for_its_triple_only():
    default = compose([])  # conf/recipe/mnist_dcgan_adam.yaml, measured in bench/quality.py
    assert (default.arch.generator.channels, default.arch.discriminator.channels) == (32, 32)
    assert default.optimizer.generator.lr == default.optimizer.discriminator.lr == 6e-4
    cifar = compose(["dataset=cifar10", "dataset.root=/x"])
    assert cifar.arch.generator.channels == 64 and cifar.optimizer.generator.lr == 2e-4 and cifar.total_kimg == 60
    typed = compose(["arch.generator.channels=64", "optimizer.generator.lr=2e-4", "total_kimg=60"])
    assert typed.arch.generator.channels == 64 and typed.optimizer.generator.lr == 2e-4 and typed.total_kimg == 60
    wgangp = compose(["loss=wgangp"])  # a loss preset's rates win over the recipe's
    assert wgangp.optimizer.generator.lr == 1e-4 and wgangp.n_critic == 5 and wgangp.arch.generator.channels == 32
    ttur = compose(["optimizer=ttur"])  # another optimizer: no recipe
    assert (ttur.optimizer.generator.lr, ttur.optimizer.discriminator.lr, ttur.total_kimg) == (1e-4, 4e-4, 60)


def test_names_lengths_and_step_counts():
    assert run_length(compose(["experiment=sndcgan_cifar10", "dataset.root=/x"])) == "100000 G steps"
    assert run_length(compose([])) == "130 kimg"  # conf/recipe/mnist_dcgan_adam.yaml
    assert run_length(compose(["dataset=ring", "arch=mlp"])) == "60 kimg"
    argv = ["-m", "arch=mlp", "loss=ns,hinge", "dataset.root=/a b/c,/d"]
    assert sweep_subdir(3, ["arch=mlp", "loss=hinge", "dataset.root=/a b/c"], argv) == "003_dataset.root=_a_b_c,loss=hinge"
    assert sweep_subdir(0, [], argv) == "000" and len(sweep_subdir(1, ["x=" + "y" * 500], [])) == 84
    assert batches_for_steps(10, 1) == 5 and batches_for_steps(10, 5) == 9 and batches_for_steps(11, 1) == 6


def test_each_launch_keeps_its_own_hydra_record(tmp_path):
    assert hydra_subdir(str(tmp_path)) == ".hydra"
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra-2").mkdir()
    assert hydra_subdir(str(tmp_path)) == ".hydra-3"


@pytest.mark.parametrize("override,message", [
    ("optimizer.generator.lrr=1e-3", "optimizer.generator.lrr is not a key of the config; did you mean "
                                     "optimizer.generator.lr?"),
    ("+optimizer.generator.lrr=1e-3", "optimizer.generator.lrr is not an argument of torch.optim.adam.Adam; "
                                      "accepted: lr, betas"),
    ("+arch.generator.foo=1", "arch.generator.foo is not an argument of gan_lightning.nets.mlp.Generator; accepted: "
                              "z_dim, img_resolution"),
    ("total_kimg=abc", "total_kimg='abc' is not supported; accepted: a number > 0 or null"),
    ("trainer.accelerator=gpu", "trainer.accelerator=gpu: No supported gpu backend found!; accepted on this machine: "
                                "auto, cpu"),
])
def test_bad_command_lines_end_with_one_line_naming_the_key(override, message, tmp_path):
    from gan_lightning.run.build import run
    from gan_lightning.run.cli import unknown_key

    if "accelerator" in override and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    args = [*tiny("mlp", "dataset=ring"), override]
    line = unknown_key(args)
    if line is None:
        with pytest.raises(SystemExit) as stop:
            run(compose(args, tmp_path))
        line = str(stop.value)
    assert message in line and "\n" not in line, line


def test_help_lists_groups_options_and_keys(tmp_path):
    result = train(["--help"], tmp_path)
    assert result.returncode == 0
    for part in ("arch: began, biggan, dcgan, mlp, pggan, r3gan, resnet", "loss: began, hinge", "total_kimg", "ckpt_path", "callbacks.preview.every_kimg"):
        assert part in result.stdout, part
    assert "powered by Hydra" not in result.stdout


def test_resume_accepts_an_option_added_to_a_group_later_and_a_deleted_metric(tmp_path):
    """A run stored before augment.probability.cutout existed resumes with its original command line (augment=ada
    brings the new key, at its default); typing the new key itself, or a group the run did not have, is refused."""
    from gan_lightning.run.checkpoint import resolved_config

    base = tiny("dcgan", "augment=ada", "~metrics.list.kid_mnist")
    old = resolved_config(compose(base, tmp_path))
    del old["augment"]["probability"]["cutout"]  # as written by the version before cutout
    stored = OmegaConf.create(old)
    resumed, changed = resume_config(compose([*base, "total_kimg=1"], tmp_path), stored, [*base, "total_kimg=1"])
    assert "cutout" not in resumed.augment.probability and changed == [f"total_kimg: {old['total_kimg']:g} -> 1"]
    cutout = "augment.probability.cutout"
    for override, named in ([f"{cutout}=0.5", f"{cutout} ({cutout}: (none) -> 0.5)"],
                            ["augment=diffaugment", "augment (augment._target_:"]):
        with pytest.raises(ConfigError, match=re.escape(named)):
            resume_config(compose([*base, override], tmp_path), stored, [override])
