"""The run folder before training: one run at a time (`<run dir>/.lock`), no temporary checkpoint left by a
process that was killed while saving, and room for two checkpoints.

The lock file holds the pid, host and start time of the run writing into the folder (JSON). A second run into
the same folder is refused in one line naming that pid, while it runs; a lock whose pid is no longer alive on
this host (a run killed with SIGKILL, a crash of the machine) is taken over, as is one of the same SLURM job
(requeued on another node). Processes of a multi-process run other than rank 0 share the lock of rank 0.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from gan_lightning.errors import ConfigError

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK", "GROUP_RANK", "SLURM_PROCID")  # set by launchers per process
TEMPORARY = re.compile(r"^\..+\.(\d+)\.tmp$")  # `.<name>.<pid>.tmp`, what checkpoint_io.save_atomic writes
_held: dict[Path, int] = {}  # lock file -> how many RunLock of this process hold it (a sweep job inside run())


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this machine (signal 0 checks without sending anything)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def rank_zero_process() -> bool:
    """False in the processes a launcher started for ranks > 0 (they write into the folder of rank 0)."""
    return all(os.environ.get(name, "0") in ("", "0") for name in RANK_VARIABLES)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}  # damaged: nobody can be named as its holder
    return holder if isinstance(holder, dict) else {}


def _stale(holder: dict[str, Any], path: Path) -> str | None:
    """Why the lock of `holder` can be taken over, or None while its run may still be writing."""
    pid, host, job = holder.get("pid"), holder.get("host"), holder.get("slurm_job")
    if not isinstance(pid, int) or not host:
        return "it names no pid and host"
    if host == socket.gethostname():
        if pid == os.getpid():
            return None if path in _held else "it is of this process, from a run that ended without removing it"
        return None if pid_alive(pid) else f"pid {pid} is not running on {host}"
    if job and job == os.environ.get("SLURM_JOB_ID"):
        return f"it is of this SLURM job {job}, requeued from {host}"
    return None  # a process on another machine cannot be checked from here


def in_use(folder: str | Path, key: str = "hydra.run.dir") -> str | None:
    """The one line that refuses a run into `folder` while another run writes there; None when it is free."""
    path = Path(folder).expanduser().absolute() / LOCK_NAME
    holder = _read(path) if rank_zero_process() else None
    if holder is None or path in _held or _stale(holder, path) is not None:
        return None
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return (f"{key}={str(folder)!r} is in use by the run of pid {holder['pid']} on {holder['host']} (since {since}); "
            f"accepted: another {key}, or this one once that run has ended (if it is gone, delete {path})")


def typed_run_dir_in_use(args: list[str]) -> str | None:
    """For train.py before Hydra writes into the folder: `in_use` for the folder the command line names
    (hydra.run.dir=, or the run of ckpt_path=); None when it names none (run() still takes the lock)."""
    from gan_lightning.run.config import checkpoint_run_dir

    typed = {arg.split("=", 1)[0]: arg.split("=", 1)[1].strip("'\"") for arg in args if "=" in arg}
    if any(arg.startswith("-") for arg in args):  # a multirun: each job takes the lock of its own folder
        return None
    folder = typed.get("hydra.run.dir") or checkpoint_run_dir(typed.get("ckpt_path"), "")
    return in_use(folder) if folder else None


class RunLock(contextlib.AbstractContextManager):
    """Holds `<folder>/.lock` from `__enter__` to `__exit__` (also on error); refuses a folder in use."""

    def __init__(self, folder: str | Path, key: str = "hydra.run.dir") -> None:
        self.folder, self.key = str(folder), key
        self.path = Path(folder).expanduser().absolute() / LOCK_NAME
        self.active = rank_zero_process()

    def __enter__(self) -> RunLock:
        if not self.active:
            return self
        if self.path in _held:
            _held[self.path] += 1
            return self
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
                "slurm_job": os.environ.get("SLURM_JOB_ID")}
        for _ in range(5):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                created = self._create(mine)
            except OSError:  # a folder nobody can write into: check_room says so in one line, naming the key
                self.active = False
                return self
            if created:
                _held[self.path] = 1
                return self
            holder = _read(self.path)
            if holder is None:
                continue  # released meanwhile
            reason = _stale(holder, self.path)
            if reason is None:
                raise ConfigError(in_use(self.folder, self.key) or f"{self.key}={self.folder!r} is in use")
            if self._take_over(holder):
                log.info("%s: took over the lock of pid %s, as %s", self.path, holder.get("pid", "?"), reason)
        raise ConfigError(f"{self.key}={self.folder!r}: cannot take {self.path}, other runs keep taking it; "
                          f"accepted: a folder one run at a time writes into")

    def _create(self, mine: dict[str, Any]) -> bool:
        """Write the lock whole, then link it into place: it exists only with its content, or not at all."""
        new = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.new")
        new.write_text(json.dumps(mine))
        try:
            os.link(new, self.path)
        except FileExistsError:
            return False
        except OSError:  # a filesystem without hard links: exclusive creation, a moment without content
            try:
                with open(self.path, "x") as file:
                    file.write(json.dumps(mine))
            except FileExistsError:
                return False
        finally:
            new.unlink(missing_ok=True)
        return True

    def _take_over(self, stale: dict[str, Any]) -> bool:
        """Move the stale lock aside; if another run took it over first, put that one's lock back."""
        aside = self.path.with_name(f"{LOCK_NAME}.{os.getpid()}.stale")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return False
        moved = _read(aside)
        if moved != stale:
            with contextlib.suppress(OSError):
                os.link(aside, self.path)
        aside.unlink(missing_ok=True)
        return moved == stale

    def __exit__(self, *exc_info: object) -> None:
        if not self.active or self.path not in _held:
            return
        _held[self.path] -= 1
        if _held[self.path]:
            return
        del _held[self.path]
        holder = _read(self.path) or {}
        if holder.get("pid") == os.getpid() and holder.get("host") == socket.gethostname():
            with contextlib.suppress(OSError):
                self.path.unlink()


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the `.<name>.<pid>.tmp` files of save_atomic whose pid is not alive (a run killed mid-save), and
    say so in one line; a live process's file (a save under way) is kept."""
    stale = []
    for path in sorted(folder.glob(".*.tmp")) if rank_zero_process() else []:
        match = TEMPORARY.match(path.name)
        if match and int(match.group(1)) != os.getpid() and not pid_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                size = path.stat().st_size
                path.unlink()
                stale.append((path, size))
    if stale:
        log.info("removed %d temporary checkpoint file%s left by a run killed while saving (%s; %.1f MiB)",
                 len(stale), "s" if len(stale) > 1 else "", ", ".join(p.name for p, _ in stale),
                 sum(size for _, size in stale) / 2**20)
    return [path for path, _ in stale]


def last_checkpoint(cfg: DictConfig) -> Path:
    """Where callbacks.checkpoint writes last.ckpt."""
    folder = OmegaConf.select(cfg, "callbacks.checkpoint.dirpath") or Path(cfg.paths.output_dir) / "checkpoints"
    return Path(folder) / "last.ckpt"


def check_room(cfg: DictConfig, module: torch.nn.Module) -> None:
    """Fail before training when the checkpoint folder cannot be written or lacks room for two checkpoints
    (the new one is written beside the previous one, then renamed over it)."""
    folder = last_checkpoint(cfg).parent
    probe = folder / f".write-test-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"\0" * 4096)
        free = shutil.disk_usage(folder).free
    except OSError as error:
        raise ConfigError(f"callbacks.checkpoint.dirpath={str(folder)!r} cannot be written ({error.strerror or error}); "
                          "accepted: a folder this user can write, e.g. hydra.run.dir=outputs/runs/<name>") from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink(missing_ok=True)
    weights = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    need = 2 * 3 * weights  # weights, G_ema and two Adam moments: about 3x the module's state; twice while replaced
    if free < need:
        raise ConfigError(f"callbacks.checkpoint.dirpath={str(folder)!r} has {free / 2**20:.0f} MiB free; accepted: "
                          f"a folder with at least {need / 2**20:.0f} MiB free (two checkpoints of this run)")
