"""Faults of the issue-23 sweep, third part: a crafted CIFAR-10 batch, two runs into one folder, stale temporary
checkpoints, Ctrl-C, a full disk under the loggers; each ends in one line and runs no stranger's code."""
import errno
import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import time

import lightning as L
import numpy as np
import pytest
import torch

from gan_lightning.data.cifar import CIFAR10DataModule
from gan_lightning.errors import ConfigError
from gan_lightning.run.build import run
from gan_lightning.run.config import ReportOnceFileHandler
from gan_lightning.run.folder import RunLock, in_use
from gan_lightning.training.checkpoint_io import temporary_path
from gan_lightning.training.preemption import interrupted_line
from tests.conftest import REPO, compose, tiny

# --- a CIFAR-10 batch file is data, never code ------------------------------------------------------------


def write_batches(folder, first: bytes | None = None, protocol: int | None = None, py2_names: bool = False):
    """cifar-10-batches-py/ with 2 images per batch; `first` replaces data_batch_1's bytes. With `py2_names` the
    numpy globals are spelled numpy.core.multiarray, as in the real files (pickled by Python 2's numpy)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        batch = {b"batch_label": b"training batch", b"labels": [i, 9 - i], b"filenames": [b"a.png", b"b.png"],
                 b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8)}
        data = pickle.dumps(batch, protocol=protocol)
        if py2_names:
            assert b"numpy._core.multiarray\n" in data  # protocol 2 names globals as text lines
            data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        (folder / f"data_batch_{i}").write_bytes(first if i == 1 and first is not None else data)
    return folder


@pytest.mark.parametrize("protocol,py2_names", [(2, False), (2, True), (None, False), (5, False)])
def test_a_real_format_cifar_batch_still_loads(tmp_path, protocol, py2_names):
    folder = write_batches(tmp_path / "cifar-10-batches-py", protocol=protocol, py2_names=py2_names)
    images, labels = CIFAR10DataModule(root=str(tmp_path)).data
    assert images.shape == (10, 3, 32, 32) and labels.tolist() == [v for i in range(1, 6) for v in (i, 9 - i)]
    assert folder.is_dir()


def test_a_crafted_cifar_batch_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    write_batches(tmp_path / "cifar-10-batches-py", first=pickle.dumps({b"data": Payload(), b"labels": [0]}))
    with pytest.raises(ConfigError) as refused:
        CIFAR10DataModule(root=str(tmp_path)).data
    assert not marker.exists()
    assert str(refused.value) == (
        f"dataset.root='{tmp_path / 'cifar-10-batches-py'}': batch data_batch_1 is not a CIFAR-10 python batch "
        f"(refused: loading it would run code (posix.system)); accepted: cifar-10-python.tar.gz, "
        "cifar-10-batches-py/, <split>/<class>/*.png|jpg, or a .tar.gz/.zip of that image folder")
    with pytest.raises(SystemExit) as stop:  # what train.py prints: the same line
        run(compose(tiny("mlp", "dataset=cifar10", f"dataset.root={tmp_path}", "metrics=none"), tmp_path / "run"))
    assert str(stop.value) == f"error: {refused.value}" and not marker.exists()


@pytest.mark.parametrize("content,reason", [
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]})[:50], "pickle data was truncated"),
    (pickle.dumps([1, 2, 3]), "needs a dict with b'data' and b'labels'; found list"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "needs a dict with b'data' and b'labels'; found [\"b'data'\"]"),
    (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "b'data' must be uint8 rows of 3072"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "2 images and 1 labels"),
    (b"not a pickle at all", "not a CIFAR-10 python batch ("),
], ids=["truncated", "a list", "no labels", "short rows", "fewer labels", "not a pickle"])
def test_a_malformed_cifar_batch_is_one_line(tmp_path, content, reason):
    write_batches(tmp_path / "cifar-10-batches-py", first=content)
    with pytest.raises(ConfigError) as refused:
        CIFAR10DataModule(root=str(tmp_path)).data
    message = str(refused.value)
    assert reason in message and "batch data_batch_1" in message and "\n" not in message, message


# --- one run at a time in a run folder --------------------------------------------------------------------

TOY = tiny("mlp", "dataset=ring", "metrics=none", "total_kimg=0.016")  # 2 batches of 8 points, last.ckpt at the end


def hold_lock(run_dir, pid: int) -> None:
    """A lock file as a run of `pid` on this host writes it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / ".lock").write_text(json.dumps({"pid": pid, "host": socket.gethostname(), "started": time.time()}))


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_running_pid(tmp_path):
    run_dir = tmp_path / "same"
    running = subprocess.Popen(["sleep", "60"])  # stands for the first run, alive meanwhile
    try:
        hold_lock(run_dir, running.pid)
        with pytest.raises(SystemExit) as stop:
            run(compose(TOY, run_dir))
        assert str(stop.value).startswith(f"error: hydra.run.dir='{run_dir}' is in use by the run of pid "
                                          f"{running.pid} on {socket.gethostname()} (since ")
        assert "accepted: another hydra.run.dir, or this one once that run has ended" in str(stop.value)
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]  # nothing written, the lock kept
        # train.py refuses before Hydra writes its record (.hydra, train.log) into the folder
        result = subprocess.run([sys.executable, "train.py", *TOY, f"hydra.run.dir={run_dir}"], cwd=REPO,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 1 and result.stderr.strip() == str(stop.value), result.stderr[-2000:]
        assert sorted(p.name for p in run_dir.iterdir()) == [".lock"]
    finally:
        running.kill()
        running.wait()


def test_a_stale_lock_is_taken_over_and_the_lock_is_released_at_the_end_and_on_error(tmp_path, caplog):
    run_dir = tmp_path / "run"
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is not alive any more
    hold_lock(run_dir, dead.pid)
    with caplog.at_level(logging.INFO, logger="gan_lightning"):
        run(compose(TOY, run_dir))
    assert f"took over the lock of pid {dead.pid}, as pid {dead.pid} is not running" in caplog.text
    assert (run_dir / "checkpoints" / "last.ckpt").is_file() and not (run_dir / ".lock").exists()
    # a resume into its own folder takes and releases the lock again
    run(compose([*TOY, f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", "total_kimg=0.032"], run_dir))
    assert torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["clock"]["nimg"] == 32
    assert not (run_dir / ".lock").exists()
    with pytest.raises(SystemExit, match="c_dim=3 needs labels"):  # an error after the lock was taken
        run(compose([*TOY, "c_dim=3"], tmp_path / "failed"))
    assert not (tmp_path / "failed" / ".lock").exists()


def test_the_lock_names_this_process_while_held_and_nests_within_it(tmp_path):
    with RunLock(tmp_path):
        holder = json.loads((tmp_path / ".lock").read_text())
        assert (holder["pid"], holder["host"]) == (os.getpid(), socket.gethostname())
        assert in_use(tmp_path) is None  # this process may write there (a sweep job inside train.py's run)
        with RunLock(tmp_path):
            pass
        assert (tmp_path / ".lock").exists()
    assert not (tmp_path / ".lock").exists()
    hold_lock(tmp_path, os.getpid())  # left by this process without being held: taken over
    with RunLock(tmp_path):
        assert json.loads((tmp_path / ".lock").read_text())["started"] > 0
    assert not (tmp_path / ".lock").exists()


# --- temporary checkpoints of a run killed while saving ---------------------------------------------------


def test_temporaries_of_killed_saves_are_removed_at_start_and_a_live_ones_kept(tmp_path, caplog):
    folder = tmp_path / "run" / "checkpoints"
    folder.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    saving = subprocess.Popen(["sleep", "60"])  # a process still writing its temporary file
    try:
        stale = [temporary_path(folder / "last.ckpt", dead.pid), temporary_path(folder / "kimg000000.ckpt", dead.pid)]
        live = temporary_path(folder / "last.ckpt", saving.pid)
        for path in [*stale, live]:
            path.write_bytes(b"PK" + b"x" * 2**20)  # a half-written checkpoint
        (folder / "notes.tmp").write_text("not ours")
        with caplog.at_level(logging.INFO, logger="gan_lightning"):
            run(compose(TOY, tmp_path / "run"))
    finally:
        saving.kill()
        saving.wait()
    assert (f"removed 2 temporary checkpoint files left by a run killed while saving (.kimg000000.ckpt.{dead.pid}.tmp, "
            f".last.ckpt.{dead.pid}.tmp; 2.0 MiB)") in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == sorted(["last.ckpt", live.name, "notes.tmp"])


# --- Ctrl-C -----------------------------------------------------------------------------------------------


class CtrlC(L.Callback):
    """Sends this process SIGINT (what Ctrl-C sends) at the end of batch `at_batch`."""

    def __init__(self, at_batch: int) -> None:
        self.at_batch = at_batch

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if pl_module.batches == self.at_batch:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_saves_last_ckpt_and_says_where_and_how_to_resume(tmp_path, caplog):
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    args = [*TOY, "total_kimg=0.4", "+callbacks.ctrl_c._target_=tests.test_faults3.CtrlC", "+callbacks.ctrl_c.at_batch=3"]
    handler = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a shell's background job starts with SIGINT ignored
    try:
        with caplog.at_level(logging.INFO, logger="gan_lightning"), pytest.raises(SystemExit) as stop:
            run(compose(args, tmp_path / "run"))
    finally:
        signal.signal(signal.SIGINT, handler)  # Lightning ignores further Ctrl-C while it shuts down
    assert stop.value.code == 1
    line = f"interrupted (Ctrl-C) at 0.024 kimg (batch 3); last.ckpt saved: {ckpt}; resume with: python train.py ckpt_path={ckpt}"
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("interrupted")] == [line]
    assert torch.load(ckpt, weights_only=True)["clock"] == {"nimg": 24, "batches": 3}
    assert not (tmp_path / "run" / ".lock").exists()
    assert interrupted_line(0, 0, None) == ("interrupted (Ctrl-C) at 0.000 kimg (batch 0), before the first batch "
                                            "ended: no checkpoint written")


# --- a full disk under the loggers ------------------------------------------------------------------------


def no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_under_train_log_is_one_warning_not_a_traceback_per_line(tmp_path, capsys):
    handler = ReportOnceFileHandler(tmp_path / "train.log")
    logger = logging.getLogger("test_faults3.full_disk")
    logger.addHandler(handler)
    try:
        logger.warning("written")
        handler.stream.write = no_space  # the disk is full from now on
        for i in range(50):
            logger.warning("line %d", i)
    finally:
        logger.removeHandler(handler)
        handler.stream.write = lambda text: len(text)
        handler.close()
    err = capsys.readouterr().err
    assert err == (f"warning: cannot write {tmp_path / 'train.log'} (No space left on device); its lines are lost "
                   "until there is room, the console still gets them\n")
    assert (tmp_path / "train.log").read_text() == "written\n"


def test_a_full_disk_mid_run_is_one_line_for_the_checkpoint_and_one_for_the_csv(tmp_path, monkeypatch, caplog):
    import lightning.fabric.plugins.io.torch_io as torch_io
    from lightning.fabric.loggers.csv_logs import _ExperimentWriter

    run(compose(TOY, tmp_path / "run"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    before = ckpt.read_bytes()
    monkeypatch.setattr(torch_io, "_atomic_save", no_space)
    monkeypatch.setattr(_ExperimentWriter, "save", no_space)  # metrics.csv; Lightning saves it again on the error
    with caplog.at_level(logging.INFO, logger="gan_lightning"), pytest.raises(SystemExit) as stop:
        run(compose([*TOY, f"ckpt_path={ckpt}", "total_kimg=0.064", "logger=csv", "callbacks.checkpoint.every_kimg=0.032",
                     "trainer.log_every_n_steps=1"], tmp_path / "run"))
    assert "cannot write last.ckpt (No space left on device); the previous last.ckpt is kept" in str(stop.value)
    warnings = [r.getMessage() for r in caplog.records  # the console's (the record logger writes train.log only)
                if r.levelno >= logging.WARNING and r.name != "gan_lightning.record"]
    assert warnings == [f"warning: cannot write {tmp_path / 'run' / 'csv' / 'metrics.csv'} (No space left on device); "
                        "its rows are kept and written when there is room"], warnings
    assert ckpt.read_bytes() == before


def test_a_lock_of_another_host_is_kept_unless_it_is_this_slurm_job_requeued(tmp_path, monkeypatch):
    running = subprocess.Popen(["sleep", "60"])
    try:
        monkeypatch.setenv("SLURM_JOB_ID", "4242")
        hold_lock(tmp_path, running.pid)  # this host, alive: kept even within the same SLURM job
        lock = json.loads((tmp_path / ".lock").read_text())
        (tmp_path / ".lock").write_text(json.dumps({**lock, "slurm_job": "4242"}))
        with pytest.raises(ConfigError, match=f"in use by the run of pid {running.pid}"):
            RunLock(tmp_path).__enter__()
    finally:
        running.kill()
        running.wait()
    (tmp_path / ".lock").write_text(json.dumps({"pid": 1, "host": "node-7", "started": 0.0, "slurm_job": "4241"}))
    assert "pid 1 on node-7" in in_use(tmp_path)  # another machine's process cannot be checked: kept
    (tmp_path / ".lock").write_text(json.dumps({"pid": 1, "host": "node-7", "started": 0.0, "slurm_job": "4242"}))
    assert in_use(tmp_path) is None  # this job, requeued onto another node: taken over
    with RunLock(tmp_path):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
