"""launcher=slurm against a real SLURM: a one-job sweep is submitted, waited for and leaves a complete run folder.

Runs where `sinfo` is on PATH and answers (a cluster's login node, or this machine after
`bash bench/slurm_local.sh setup`); skips elsewhere, e.g. in CI. `pytest -m slurm` selects it alone.
"""
import os
import shutil
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO

pytestmark = pytest.mark.slurm

# a CPU job: the launcher=slurm defaults ask for 1 GPU, 8 CPUs and 64 GB (bench/slurm_local.sh does the same)
CPU_JOB = ["trainer.accelerator=cpu", "trainer.strategy=auto", "hydra.launcher.gpus_per_node=null",
           "hydra.launcher.tasks_per_node=1", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2",
           "hydra.launcher.timeout_min=10"]


def slurm_answers() -> str | None:
    """Why SLURM cannot be used here, or None when `sinfo` answers with at least one node."""
    if shutil.which("sinfo") is None:
        return "sinfo is not on PATH (no SLURM here; bench/slurm_local.sh sets up one)"
    try:
        result = subprocess.run(["sinfo", "-h", "-o", "%D"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"sinfo did not answer: {error}"
    if result.returncode != 0 or not result.stdout.strip():
        return f"sinfo answered no node: {(result.stderr or result.stdout).strip()[:200]}"
    return None


def test_a_one_job_sweep_runs_on_slurm_and_leaves_a_complete_run_folder(tmp_path):
    reason = slurm_answers()
    if reason:
        pytest.skip(reason)
    sweep = tmp_path / "sweep"
    args = ["-m", "launcher=slurm", "seed=3", "arch=mlp", "dataset=ring", "total_kimg=1", "metrics=none",
            "arch.generator.hidden_sizes=[32,32]", "arch.discriminator.hidden_sizes=[32,32]",
            *CPU_JOB, f"hydra.sweep.dir={sweep}"]
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(REPO / "train.py"), *args], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    runs = sorted(p for p in sweep.iterdir() if p.is_dir() and not p.name.startswith("."))
    assert len(runs) == 1, runs
    run = runs[0]
    for name in ("config.yaml", "checkpoints/last.ckpt", "csv/metrics.csv", "train.log"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["clock"] == {"nimg": 1024, "batches": 32}
    assert "done: 1.024 kimg, 32 G steps" in (run / "train.log").read_text()
    assert list((sweep / ".submitit").glob("*/*_result.pkl"))  # submitit's record that the job returned
