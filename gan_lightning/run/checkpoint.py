"""Which checkpoint a run resumes from (`ckpt_path=last`, a run folder, a file) and the config it stores.

Reading, writing and rebuilding a module from a checkpoint file are training/checkpoint_io.py.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from gan_lightning.errors import ConfigError
from gan_lightning.training.checkpoint_io import read_checkpoint

log = logging.getLogger(__name__)


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The run's config as plain data, every interpolation filled in, without Hydra's own node."""
    # node by node: Hydra's own node (present in composed configs) has values that only exist in a job
    return {key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            for key, value in cfg.items() if key != "hydra"}


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
