"""The progress bar: loss/d, loss/g, kimg and the headline metric, within the terminal's width."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("columns", [80, 120])
def test_the_bar_shows_kimg_the_losses_and_the_headline_metric_within_the_width(tmp_path, columns):
    env = {**os.environ, "WANDB_MODE": "disabled", "COLUMNS": str(columns)}
    args = ["arch=mlp", "dataset=ring", "arch.generator.hidden_sizes=[16,16]", "arch.discriminator.hidden_sizes=[16,16]",
            "total_kimg=0.4", "metrics.every_kimg=0.2", "metrics.n_samples=200", "callbacks.log.every_kimg=0.1",
            "callbacks.preview.every_kimg=0", f"hydra.run.dir={tmp_path}"]
    result = subprocess.run([sys.executable, "train.py", *args], cwd=REPO, capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    frames = [frame for frame in re.split(r"[\r\n]", result.stdout) if frame.startswith("train:")]
    assert frames and max(len(frame) for frame in frames) <= columns, max(frames, key=len)
    last = frames[-1]
    assert "kimg=0.416" in last and "loss/d=" in last and "loss/g=" in last
    if columns >= 100:
        assert re.search(r"high_quality=[0-9.]+\]$", last), last  # metrics.best of the toys, at the end
    assert "logits/" not in result.stdout and "reg/" not in result.stdout and "_real" not in last
