"""train.py from the command line and every option of every config group."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.utils import instantiate

from gan_lightning.run.build import build_module
from tests.conftest import REPO, compose, tiny

GROUPS = ["arch", "loss", "regularizer", "augment", "optimizer", "dataset", "trainer", "logger", "callbacks", "experiment"]


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (REPO / "conf" / group).glob("*.yaml"))


def experiment_choice(option: str, group: str, default: str) -> str:
    """The option of `group` an experiment file overrides to (its tiny widths must fit that arch)."""
    text = (REPO / "conf" / "experiment" / f"{option}.yaml").read_text()
    match = re.search(rf"override /{group}: (\w+)", text)
    return match.group(1) if match else default


def train(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore"}
    return subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("group,option", [(g, o) for g in GROUPS for o in options(g)])
def test_every_option_composes_and_instantiates(group, option, tmp_path, tiny_dataset_roots):
    arch = option if group == "arch" else {"ring": "mlp", "grid": "mlp", "single_image": "singan"}.get(option, "dcgan")
    if group == "experiment":
        arch = experiment_choice(option, "arch", "dcgan")
    roots = tiny_dataset_roots.get(option, [])
    if group == "experiment" and experiment_choice(option, "dataset", "mnist") not in ("ring", "grid", "single_image"):
        roots = tiny_dataset_roots["folder"]  # experiments on image data get a tiny folder of PNGs
    overrides = tiny(arch, f"{group}={option}", *roots)
    cfg = compose(overrides, tmp_path)
    datamodule = instantiate(cfg.dataset)
    module = build_module(cfg)
    resolution = cfg.dataset.get("resolution", cfg.dataset.get("max_size"))  # single_image: the long side
    assert module.generator.img_resolution == resolution
    for node in ("trainer", "logger", "callbacks"):
        if group == node:
            for value in ([cfg[node]] if node == "trainer" else cfg[node].values()):
                if value and not str(value.get("strategy", "")).startswith("ddp"):
                    assert instantiate(value, **({"logger": False} if node == "trainer" else {})) is not None
    assert datamodule.resolution == resolution


def test_train_py_writes_config_csv_checkpoint_and_samples(tmp_path):
    run_dir = tmp_path / "run"
    result = train([*tiny("dcgan"), f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    resolved = (run_dir / "config.yaml").read_text()
    assert "img_resolution: 32" in resolved and "${" not in resolved
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    header = (run_dir / "csv" / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"loss/d", "loss/g", "logits/real", "logits/fake", "progress/kimg"} <= set(header)
    samples = sorted(p.name for p in (run_dir / "samples").glob("*.png"))
    # 40 images in batches of 8, a preview every 16: at the start, the crossings and the end, each once
    assert samples == ["fakes000000.000.png", "fakes000000.016.png", "fakes000000.032.png", "fakes000000.040.png",
                       "reals.png"]


def test_unknown_option_lists_the_available_ones(tmp_path):
    result = train(["arch=nosuchnet"], tmp_path)
    assert result.returncode != 0
    assert "nosuchnet" in result.stderr and "dcgan" in result.stderr and "sndcgan" in result.stderr


@pytest.mark.parametrize("override,message", [
    ("n_critic=0", "n_critic=0 is not supported; accepted: an integer >= 1"),
    ("dataset.resolution=24", "resolution=24 is not supported"),
    ("ckpt_path=/no/such/last.ckpt", "ckpt_path='/no/such/last.ckpt' does not exist"),
    ("dataset=folder", "dataset.root must be set"),
    ("dataset.fallback=false", "holds no MNIST; accepted: a folder with mnist.npz"),
    ("arch.discriminator.normalization=instance", "normalization='instance' is not supported; accepted: none"),
])
def test_bad_input_ends_with_one_line_naming_the_value(override, message, tmp_path):
    result = train([*tiny("dcgan"), override, f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_every_trainer_argument_is_reachable_from_the_command_line():
    import inspect

    import lightning as L
    from omegaconf import OmegaConf

    listed = set(OmegaConf.load(REPO / "conf" / "trainer" / "default.yaml"))
    arguments = set(inspect.signature(L.Trainer.__init__).parameters) - {"self", "logger", "callbacks"}
    assert arguments <= listed, sorted(arguments - listed)


def test_nan_loss_stops_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    import torch

    from gan_lightning.training.checkpoint_io import CHECKSUM, payload_sha256

    run_dir = tmp_path / "run"
    good = train([*tiny("mlp", "dataset=ring", "regularizer=r1", "total_kimg=0.016"), f"hydra.run.dir={run_dir}"],
                 tmp_path)
    assert good.returncode == 0, good.stderr[-2000:]
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(ckpt, weights_only=True)  # a weight of D becomes NaN: so do the losses
    checkpoint["state_dict"]["discriminator.net.1.weight"].fill_(float("nan"))
    checkpoint[CHECKSUM] = payload_sha256(checkpoint["state_dict"])  # as training would have written it
    torch.save(checkpoint, ckpt)
    before = ckpt.read_bytes()
    result = train([f"ckpt_path={ckpt}", "total_kimg=0.4"], tmp_path)
    assert result.returncode != 0
    assert "reg/r1" in result.stderr and "loss/d" in result.stderr and "became NaN/inf at" in result.stderr
    assert "Traceback" not in result.stderr
    assert ckpt.read_bytes() == before
    log = (run_dir / "train.log").read_text()
    assert "[ERROR] - error: " in log and "became NaN/inf" in log  # train.log records the error too


def test_loggers_get_the_config_and_the_sample_images(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    result = train([*tiny("mlp", "dataset=ring", "logger=all"), f"hydra.run.dir={run_dir}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    events = EventAccumulator(str(run_dir / "tensorboard")).Reload()
    assert "samples/fakes" in events.Tags()["images"]
    assert "loss/d" in events.Tags()["scalars"]
    hparams = (run_dir / "csv" / "hparams.yaml").read_text()
    assert "gan_lightning.nets.mlp.Generator" in hparams and "total_kimg: 0.04" in hparams
