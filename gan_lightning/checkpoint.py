"""A checkpoint alone rebuilds its run: the resolved config travels inside it, under `config`.

`load_module(path)` composes nothing and needs no command line: it instantiates G, D, G_ema, loss and
regularizer from the stored config and loads their weights and the images-seen clock. Checkpoints are
read with `torch.load(weights_only=True)`: a file that would need arbitrary code to load is refused.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gan_lightning.errors import ConfigError

log = logging.getLogger(__name__)


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The run's config as plain data, every interpolation filled in, without Hydra's own node."""
    # node by node: Hydra's own node (present in composed configs) has values that only exist in a job
    return {key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            for key, value in cfg.items() if key != "hydra"}


def save_atomic(trainer, path: str | Path, key: str = "callbacks.checkpoint.dirpath") -> Path:
    """`trainer.save_checkpoint` to a temporary file beside `path`, flushed to disk, then renamed over `path`.

    Lightning's own transaction writes to the system's temporary folder and then *copies* across filesystems
    (a cluster's /tmp is rarely the output disk), so a kill or a full disk mid-copy could truncate `path`.
    Here the previous file stays whole until the rename; a failed write (disk full, read-only) is one line.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        trainer.save_checkpoint(tmp, weights_only=False)
        if trainer.is_global_zero:
            with open(tmp, "rb") as file:
                os.fsync(file.fileno())
            os.replace(tmp, path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise ConfigError(f"{key}={str(path.parent)!r}: cannot write {path.name} ({reason}); the previous "
                          f"{path.name} is kept; accepted: a writable folder with free space") from None
    finally:
        if trainer.is_global_zero:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return path


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", key: str = "ckpt") -> dict[str, Any]:
    """The checkpoint's contents, loaded without running code; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{key}={str(path)!r} does not exist; accepted: a checkpoint file such as "
                          "outputs/runs/<run>/checkpoints/last.ckpt")
    accepted = "accepted: a last.ckpt written by train.py"
    if not zipfile.is_zipfile(path):  # torch.save writes a zip; a truncated one has lost its central directory
        raise ConfigError(f"{key}={str(path)!r} is not a gan_lightning checkpoint that loads safely (not a "
                          f"complete torch.save file: another format, or truncated); {accepted}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # a pickle that needs code to load, or damaged contents
        refused = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (\S+)", str(error))
        reason = (f"refused: loading it would run code ({refused.group(1)})" if refused
                  else (str(error).strip().splitlines() or [type(error).__name__])[0][:200])
        raise ConfigError(f"{key}={str(path)!r} is not a gan_lightning checkpoint that loads safely ({reason}); "
                          f"{accepted}") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"{key}={str(path)!r} holds no state_dict; accepted: a last.ckpt written by train.py")
    return checkpoint


def newest_checkpoint(folder: str | Path) -> Path | None:
    """The most recently written checkpoint of a run's `checkpoints/` folder that loads safely (last.ckpt or
    a kimg snapshot; best.ckpt is an older state), or None; a damaged newer file is skipped with a warning."""
    candidates = [p for p in Path(folder).glob("*.ckpt") if p.is_file() and p.name != "best.ckpt"]
    for path in sorted(candidates, key=lambda p: (p.stat().st_mtime, p.name == "last.ckpt"), reverse=True):
        try:
            read_checkpoint(path)
            return path
        except ConfigError as error:
            log.warning("skipping %s: %s", path, error)
    return None


def resolve_ckpt_path(ckpt_path: str | None, output_dir: str | Path) -> str | None:
    """`ckpt_path` as a file: `last` is the newest checkpoint of this launch's run folder (None when there is
    none yet: a first launch starts the run, a requeued one resumes it); a run folder gives its newest."""
    if ckpt_path is None:
        return None
    text = str(ckpt_path)
    accepted = ("accepted: a checkpoint file such as outputs/runs/<run>/checkpoints/last.ckpt, a run folder, or "
                "last (the newest checkpoint of hydra.run.dir)")
    if text == "last":
        found = newest_checkpoint(Path(output_dir) / "checkpoints")
        return None if found is None else str(found)
    path = Path(text).expanduser()
    if not text.strip() or not path.exists():
        raise ConfigError(f"ckpt_path={text!r} does not exist; {accepted}")
    if path.is_dir():
        folder = path / "checkpoints" if (path / "checkpoints").is_dir() else path
        found = newest_checkpoint(folder)
        if found is None:
            raise ConfigError(f"ckpt_path={text!r} holds no checkpoint that loads; {accepted}")
        return str(found)
    return text


def checkpoint_config(checkpoint: dict[str, Any], path: str | Path = "checkpoint") -> DictConfig:
    """The resolved config stored in a checkpoint."""
    config = checkpoint.get("config")
    if config is None:
        raise ConfigError(f"ckpt={str(path)!r} carries no config (written before configs were stored); "
                          "accepted: a checkpoint written by this version of train.py")
    return OmegaConf.create(config)


def check_weights_fit(module: torch.nn.Module, checkpoint: dict[str, Any], path: str | Path,
                      key: str = "ckpt") -> None:
    """Raise ConfigError, naming both shapes and what the config builds, when the checkpoint's weights are not
    those of the module its config builds (another arch or resolution: a foreign or edited file)."""
    own = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    theirs = {name: tuple(t.shape) for name, t in checkpoint["state_dict"].items() if hasattr(t, "shape")}
    wrong = [name for name in own if name in theirs and own[name] != theirs[name]]
    missing, extra = sorted(set(own) - set(theirs)), sorted(set(theirs) - set(own))
    if not (wrong or missing or extra):
        return
    config = checkpoint.get("config") or {}
    built = (f"{(config.get('arch') or {}).get('generator', {}).get('_target_', '?').rsplit('.', 2)[-2]} at "
             f"{(config.get('dataset') or {}).get('resolution', '?')}px")
    if wrong:
        difference = f"{wrong[0]} is {list(theirs[wrong[0]])} in the file and {list(own[wrong[0]])} in {built}"
    elif missing:
        difference = f"{built} has {missing[0]}, the file has not"
    else:
        difference = f"the file has {extra[0]}, {built} has not"
    raise ConfigError(f"{key}={str(path)!r} holds weights of another arch or resolution than {built} ({difference}); "
                      "accepted: a checkpoint written by train.py for the same arch and resolution")


def load_module(path: str | Path, map_location: str | torch.device = "cpu"):
    """The GAN module of a checkpoint (G, D, G_ema with their weights, the clock), in eval mode."""
    from gan_lightning.build import build_module  # build imports this module

    checkpoint = read_checkpoint(path, map_location)
    cfg = checkpoint_config(checkpoint, path)
    module = build_module(cfg)
    module.run_config = OmegaConf.to_container(cfg)
    check_weights_fit(module, checkpoint, path)
    module.load_state_dict(checkpoint["state_dict"])
    module.on_load_checkpoint(checkpoint)
    return module.eval()
