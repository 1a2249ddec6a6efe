"""Faults of the issue-23 sweep: each ends in one line (or keeps the run whole), and none runs a stranger's code."""
import subprocess
import sys

import pytest
import torch

from gan_lightning.run.cli import instantiate_error, unparsable
from tests.conftest import REPO, compose, tiny

TOY = tiny("mlp", "dataset=ring", "metrics=none", "total_kimg=0.016")  # 2 batches of 8 points, last.ckpt at the end


def entry(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("module,example", [
    ("generate", "n=64"),
    ("evaluate", "metrics=[fid,kid]; or fakes=<folder> reals=<folder> to compare two sets of images")])
def test_generate_or_evaluate_without_ckpt_is_one_line_with_an_example(module, example):
    result = entry(f"gan_lightning.{module}")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert result.stderr.strip() == (f"error: ckpt must be set; accepted: a checkpoint written by train.py, e.g. python "
                                     f"-m gan_lightning.{module} ckpt=outputs/runs/<run>/checkpoints/last.ckpt {example}")


def test_an_override_hydra_cannot_lex_says_how_to_quote_it(tmp_path):
    assert unparsable(["arch=mlp", "hydra.run.dir=/tmp/runs/é"]) == (
        "hydra.run.dir='/tmp/runs/é' is rejected by Hydra's override grammar (token recognition error at: 'é'); "
        "accepted: the value in double quotes, and the whole override in single quotes for the shell: "
        "'hydra.run.dir=\"/tmp/runs/é\"'")
    assert "mismatched input '('" in unparsable(["ckpt=/tmp/a(1).ckpt"])
    # what the message proposes parses, and a run then writes into the folder with the accent
    assert unparsable(['hydra.run.dir="/tmp/runs/é"', "ckpt='/tmp/a(1).ckpt'", "-m", "loss=ns,hinge"]) is None
    result = entry("gan_lightning.generate", "ckpt=/tmp/é.ckpt")
    assert result.returncode == 1 and "Lexer" not in result.stderr and "'ckpt=\"/tmp/é.ckpt\"'" in result.stderr
    run_dir = tmp_path / "é(1)"
    result = subprocess.run([sys.executable, "train.py", *TOY, f'hydra.run.dir="{run_dir}"'], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()


def test_an_accelerator_that_is_missing_is_the_only_key_blamed(tmp_path):
    from hydra.errors import InstantiationException

    cfg = compose(TOY, tmp_path)
    error = InstantiationException("Error in call to target 'lightning.pytorch.trainer.trainer.Trainer':\n"
                                   "MisconfigurationException('No supported gpu backend found!')\nfull_key: trainer")
    error.__cause__ = RuntimeError("No supported gpu backend found!")
    line = instantiate_error(error, cfg, ["arch=mlp", "trainer.accelerator=gpu", "trainer.max_steps=10"])
    assert line.startswith("trainer.accelerator=gpu: No supported gpu backend found!; accepted on this machine: auto")
    if not torch.cuda.is_available():  # the real Trainer says so too
        result = subprocess.run([sys.executable, "train.py", *TOY, "trainer.accelerator=gpu", "trainer.max_steps=10",
                                 f"hydra.run.dir={tmp_path / 'gpu'}"], cwd=REPO, capture_output=True, text=True,
                                timeout=300)
        assert result.stderr.strip().startswith("error: trainer.accelerator=gpu: No supported gpu backend found!")
