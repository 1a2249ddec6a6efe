"""The package layout: import contracts (pyproject.toml), file sizes, and checkpoints of the old layout."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from gan_lightning.training.checkpoint_io import (
    TARGET_ALIASES,
    current_target,
    load_module,
    read_checkpoint,
)

REPO = Path(__file__).resolve().parents[1]
OLD = REPO / "tests" / "fixtures" / "old_checkpoint"
ENV = {**os.environ, "WANDB_MODE": "disabled"}


def test_the_import_contracts_hold():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint) if lint.exists() else "lint-imports"], cwd=REPO, capture_output=True,
                            text=True, env=ENV)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout or "broken" not in result.stdout.lower()


def test_no_file_of_the_package_is_over_300_lines():
    long = {str(path.relative_to(REPO)): n for path in (REPO / "gan_lightning").rglob("*.py")
            if (n := len(path.read_text().splitlines())) > 300}
    assert long == {}


def targets(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from ([value] if key == "_target_" else targets(value))
    elif isinstance(node, list):
        for value in node:
            yield from targets(value)


def test_every_target_of_the_old_layout_resolves():
    from hydra.utils import get_object

    stored = OmegaConf.to_container(OmegaConf.load(OLD / "config.yaml"))
    old = [t for t in targets(stored) if t.startswith("gan_lightning.")]
    assert "gan_lightning.module.GAN" in old and "gan_lightning.callbacks.ema.EMA" in old
    for target in old:
        assert get_object(current_target(target)) is not None, target
    assert current_target("gan_lightning.losses.Hinge") == "gan_lightning.objectives.losses.Hinge"
    assert current_target("gan_lightning.nets.dcgan.Generator") == "gan_lightning.nets.dcgan.Generator"
    for old_prefix in TARGET_ALIASES:  # no alias points at a module that is gone
        module = TARGET_ALIASES[old_prefix].rstrip(".")
        assert get_object(module) is not None


def test_a_checkpoint_of_the_old_layout_resumes_and_generates(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    shutil.copy(OLD / "last.ckpt", run / "checkpoints" / "last.ckpt")
    shutil.copy(OLD / "config.yaml", run / "config.yaml")
    before = load_module(run / "checkpoints" / "last.ckpt")
    assert (before.nimg, before.batches) == (32, 4)
    for key, value in read_checkpoint(OLD / "last.ckpt")["state_dict"].items():
        assert torch.equal(before.state_dict()[key], value), key

    resume = subprocess.run([sys.executable, "train.py", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}",
                             "total_kimg=0.064", "trainer.enable_progress_bar=false"],
                            cwd=REPO, capture_output=True, text=True, env=ENV, timeout=300)
    assert resume.returncode == 0, resume.stdout[-2000:] + resume.stderr[-2000:]
    after = load_module(run / "checkpoints" / "last.ckpt")
    assert (after.nimg, after.batches) == (64, 8)
    key = next(iter(before.generator.state_dict()))
    assert not torch.equal(after.generator.state_dict()[key], before.generator.state_dict()[key])  # it trained on

    out = tmp_path / "generated"
    generate = subprocess.run([sys.executable, "-m", "gan_lightning.generate", f"ckpt={run / 'checkpoints' / 'last.ckpt'}",
                               "n=4", f"out_dir={out}"], cwd=REPO, capture_output=True, text=True, env=ENV, timeout=300)
    assert generate.returncode == 0, generate.stdout[-2000:] + generate.stderr[-2000:]
    assert (out / "grid.png").is_file()


@pytest.mark.parametrize("entry", ["gan_lightning.evaluate", "gan_lightning.generate", "gan_lightning.report"])
def test_the_python_m_entry_points_keep_their_names(entry):
    result = subprocess.run([sys.executable, "-m", entry, "--help"], cwd=REPO, capture_output=True, text=True,
                            env=ENV, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
