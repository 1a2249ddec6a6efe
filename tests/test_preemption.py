"""Preemption: SIGTERM (plain) and SIGUSR1 (under SLURM) save a checkpoint and exit cleanly; `ckpt_path=last`
continues a requeued job by itself."""
import os
import signal
import subprocess
import sys
import time

import torch

from gan_lightning.training.preemption import SignalFlag
from tests.conftest import REPO, tiny

# an open-ended toy run (it only stops on a signal); last.ckpt every 2 batches shows it is training
ARGS = [*tiny("mlp", "dataset=ring", "metrics=none", "total_kimg=100"), "callbacks.preview.every_kimg=0"]


def start(args: list[str], cwd, env: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, "WANDB_MODE": "disabled", "PYTHONWARNINGS": "ignore", **(env or {})}
    return subprocess.Popen([sys.executable, str(REPO / "train.py"), *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_when_saved(process: subprocess.Popen, ckpt, signum: int, after_nimg: int = 0) -> tuple[str, str]:
    """Send `signum` once `ckpt` holds a clock past `after_nimg`; the process's output."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        if ckpt.is_file() and torch.load(ckpt, weights_only=True)["clock"]["nimg"] > after_nimg:
            break
        time.sleep(0.2)
    process.send_signal(signum)
    return process.communicate(timeout=240)


def test_sigterm_saves_a_resumable_checkpoint_and_a_requeued_job_continues_by_itself(tmp_path):
    run_dir = tmp_path / "run"
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    first = start([*ARGS, f"hydra.run.dir={run_dir}"], tmp_path)
    out, err = signal_when_saved(first, ckpt, signal.SIGTERM)
    assert first.returncode == 0, err[-3000:]
    clock = torch.load(ckpt, weights_only=True)["clock"]
    line = out.strip().splitlines()[-1]
    assert line == (f"preempted by SIGTERM at {clock['nimg'] / 1000:.3f} kimg (batch {clock['batches']}); checkpoint "
                    f"saved: {ckpt}; resume with: python train.py ckpt_path={ckpt} (or ckpt_path=last with the same "
                    "hydra.run.dir)"), out
    assert "Traceback" not in err and not list(ckpt.parent.glob(".*.tmp"))

    # the requeued job: the same command line plus ckpt_path=last, under SLURM, stopped by SIGUSR1 and requeued
    scontrol = tmp_path / "bin" / "scontrol"
    scontrol.parent.mkdir()
    scontrol.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path / 'requeued'}\n")
    scontrol.chmod(0o755)
    slurm = {"SLURM_JOB_ID": "4242", "SLURM_NTASKS": "1", "SLURM_JOB_NAME": "gan", "SLURM_PROCID": "0",
             "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "PATH": f"{scontrol.parent}:{os.environ['PATH']}"}
    second = start([*ARGS, f"hydra.run.dir={run_dir}", "ckpt_path=last"], tmp_path, slurm)
    out, err = signal_when_saved(second, ckpt, signal.SIGUSR1, after_nimg=clock["nimg"])
    assert second.returncode == 0, err[-3000:]
    assert f"resume: {ckpt} at {clock['nimg'] / 1000:.3f} kimg" in out
    assert "preempted by SIGUSR1 at" in out.strip().splitlines()[-1]
    assert torch.load(ckpt, weights_only=True)["clock"]["nimg"] > clock["nimg"]
    assert (tmp_path / "requeued").read_text().split() == ["requeue", "4242"]
    assert not list(run_dir.glob("hpc_ckpt_*.ckpt"))  # Lightning's own mid-step SLURM save did not run


def test_the_signal_flag_records_the_first_signal_and_restores_the_previous_handlers():
    before = signal.getsignal(signal.SIGUSR1)
    flag = SignalFlag(["SIGUSR1", "SIGUSR2"])
    flag.install()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        os.kill(os.getpid(), signal.SIGUSR1)
        assert flag.received == "SIGUSR2"
    finally:
        flag.restore()
    assert signal.getsignal(signal.SIGUSR1) == before


def test_sigterm_to_a_multirun_ends_the_sweep_after_the_checkpoint_instead_of_starting_its_next_job(tmp_path):
    sweep = tmp_path / "sweep"
    ckpt = sweep / "000_seed=0" / "checkpoints" / "last.ckpt"
    process = start(["-m", *ARGS, "seed=0,1", f"hydra.sweep.dir={sweep}"], tmp_path)
    out, err = signal_when_saved(process, ckpt, signal.SIGTERM)
    assert process.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "preempted by SIGTERM at" in out and "SIGTERM stops the sweep" in out, out
    assert not (sweep / "001_seed=1").exists() and "Traceback" not in err


def test_a_preempted_submitit_slurm_job_ends_without_a_result_so_the_launcher_waits_for_the_requeued_one(
        monkeypatch, tmp_path):
    import pytest

    from gan_lightning.training.preemption import Preempted, leave_no_result

    stop = Preempted("SIGTERM", 2464, 77, tmp_path / "last.ckpt")
    for name in ("SUBMITIT_EXECUTOR", "SLURM_JOB_ID"):
        monkeypatch.delenv(name, raising=False)
    leave_no_result(stop)  # a plain run (or a plain sbatch script) returns: train.py then exits with status 0
    monkeypatch.setenv("SLURM_JOB_ID", "7")
    leave_no_result(stop)
    monkeypatch.setenv("SUBMITIT_EXECUTOR", "slurm")  # what submitit's sbatch script exports
    with pytest.raises(SystemExit) as exit_info:  # not an Exception: submitit writes no result file for it
        leave_no_result(stop)
    assert exit_info.value.code == 0 and not isinstance(exit_info.value, Exception)
