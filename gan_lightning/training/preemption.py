"""Preemption: SIGTERM and SIGUSR1 (what SLURM sends before it stops a job) become a checkpoint and a clean exit.

A handler only records the signal; the checkpoint callback acts on it at the end of the current batch, when
the module's state is whole (Lightning's own SLURM handler saves from inside the handler, mid-step). Under
SLURM, SIGUSR1 also requeues the job (as Lightning's auto-requeue does), and the requeued job resumes by
itself with `ckpt_path=last` (gan_lightning/run/build.py picks the newest checkpoint of its run folder).
A job of hydra's submitit launcher (launcher=slurm) ends such a run without a result (`leave_no_result`):
submitit would take a returned value for the job's result, and the launcher would stop waiting while SLURM
runs the requeued job.
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from pathlib import Path
from types import FrameType

from gan_lightning.errors import check_choice

log = logging.getLogger(__name__)

SIGNALS = ("SIGTERM", "SIGUSR1")


class Preempted(Exception):
    """Raised by the checkpoint callback after it saved on a signal; train.py ends cleanly with `resume_line`."""

    def __init__(self, signame: str, nimg: int, batches: int, path: Path) -> None:
        super().__init__(f"preempted by {signame} at {nimg / 1000:.3f} kimg (batch {batches})")
        self.signame, self.nimg, self.batches, self.path = signame, nimg, batches, path

    def resume_line(self) -> str:
        """The one line a user (or a requeued job) needs: where the checkpoint is and the command that resumes."""
        return (f"{self}; checkpoint saved: {self.path}; resume with: python train.py ckpt_path={self.path} "
                "(or ckpt_path=last with the same hydra.run.dir)")


def interrupted_line(nimg: int, batches: int, path: Path | None) -> str:
    """The line Ctrl-C ends with: how far the run got, where that state is saved, the command that continues."""
    where = f"at {nimg / 1000:.3f} kimg (batch {batches})"
    if path is None:
        return f"interrupted (Ctrl-C) {where}, before the first batch ended: no checkpoint written"
    return (f"interrupted (Ctrl-C) {where}; {path.name} saved: {path}; resume with: python train.py "
            f"ckpt_path={path}")


class SignalFlag:
    """Records the first of `names` received while installed; chains SIGTERM to the handler it replaced."""

    def __init__(self, names: tuple[str, ...] | list[str] = SIGNALS) -> None:
        accepted = [name for name in ("SIGTERM", "SIGUSR1", "SIGUSR2", "SIGINT", "SIGHUP") if hasattr(signal, name)]
        for name in names:
            check_choice("callbacks.checkpoint.signals", name, accepted)
        self.signums = [getattr(signal, name) for name in names]
        self.received: str | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread (e.g. not in a spawned test worker)
        for signum in self.signums:
            self._previous[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._previous = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.received = self.received or signal.Signals(signum).name
        previous = self._previous.get(signum)
        # Lightning's SIGTERM handler forwards the signal to DDP workers; its SIGUSR1 handler (SLURM) would save
        # mid-step and requeue, which requeue_slurm_job does after our own save instead
        if signum == signal.SIGTERM and callable(previous):
            previous(signum, frame)


def requeue_slurm_job() -> None:
    """`scontrol requeue <job>` when running under SLURM, as Lightning's auto-requeue does; a failure is logged."""
    job = os.environ.get("SLURM_JOB_ID")
    if os.environ.get("SLURM_ARRAY_JOB_ID") and os.environ.get("SLURM_ARRAY_TASK_ID"):
        job = f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    if not job:
        return
    try:
        result = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True, timeout=60)
        ok = result.returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    log.info("SLURM job %s %s", job, "requeued" if ok else "could not be requeued (scontrol requeue failed)")


def submitit_slurm_job() -> bool:
    """Whether this process is a job hydra's submitit launcher sent to SLURM (its sbatch script sets this)."""
    return os.environ.get("SUBMITIT_EXECUTOR") == "slurm" and "SLURM_JOB_ID" in os.environ


def leave_no_result(stop: Preempted) -> None:
    """Under launcher=slurm, end a preempted job without returning: submitit then writes no result file, so
    the sweep waits for the requeued job (or learns that SLURM cancelled it). In a multirun whose jobs run in
    this process (the basic launcher, joblib with one job), end the sweep as well: the signal was meant for it,
    and returning would start its next job, which the next signal would stop in turn. A single run returns."""
    if submitit_slurm_job():
        log.info("SLURM job %s stopped by %s with no result: the launcher waits for the requeued job",
                 os.environ["SLURM_JOB_ID"], stop.signame)
        raise SystemExit(0)
    if in_multirun():
        log.info("%s stops the sweep: its other jobs do not start; the same command with ckpt_path=last and the "
                 "same hydra.sweep.dir resumes this job and runs the rest", stop.signame)
        raise SystemExit(128 + signal.Signals[stop.signame].value)


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (`-m`)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN
