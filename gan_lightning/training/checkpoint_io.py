"""Checkpoint files: written atomically, read without running code, and rebuilt into a module from the config
stored inside them.

`load_module(path)` composes nothing and needs no command line: it instantiates G, D, G_ema, loss and
regularizer from the stored config and loads their weights and the images-seen clock. Checkpoints are
read with `torch.load(weights_only=True)`: a file that would need arbitrary code to load is refused.
Every checkpoint stores the sha256 of its weights (`state_dict_sha256`: each tensor's name, dtype, shape and
bytes, in sorted order); a read that finds other bytes refuses the file (damaged on disk or in a copy). Files
written before the checksum load as before.
A stored config names classes by their module path; `TARGET_ALIASES` maps the paths of earlier layouts to
today's, so a checkpoint written before a move still loads and resumes.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from gan_lightning.errors import ConfigError

log = logging.getLogger(__name__)
CHECKSUM = "state_dict_sha256"  # the checkpoint's key for payload_sha256(checkpoint["state_dict"])

# module paths of the layout before issue 20 (main at 36cde73) -> today's; the longest prefix wins
TARGET_ALIASES = {
    # moved with the G penalties (StyleGAN2's path length); listed before the prefixes they start with
    "gan_lightning.regularizers.Reconstruction": "gan_lightning.objectives.generator_penalties.Reconstruction",
    "gan_lightning.objectives.regularizers.Reconstruction": "gan_lightning.objectives.generator_penalties.Reconstruction",
    "gan_lightning.callbacks.": "gan_lightning.training.callbacks.",
    "gan_lightning.module.": "gan_lightning.training.module.",
    "gan_lightning.schedule.": "gan_lightning.training.schedule.",
    "gan_lightning.losses.": "gan_lightning.objectives.losses.",
    "gan_lightning.regularizers.": "gan_lightning.objectives.regularizers.",
    "gan_lightning.augment.": "gan_lightning.objectives.augment.",
    "gan_lightning.loggers.": "gan_lightning.run.loggers.",
}


def current_target(target: str) -> str:
    """`target` under today's module paths (a stored `_target_` of an earlier layout is mapped)."""
    for old, new in TARGET_ALIASES.items():
        if target.startswith(old):
            return new + target[len(old):]
    return target


def _current_targets(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: current_target(value) if key == "_target_" and isinstance(value, str) else _current_targets(value)
                for key, value in node.items()}
    if isinstance(node, list):
        return [_current_targets(value) for value in node]
    return node


def temporary_path(path: Path, pid: int | None = None) -> Path:
    """`.<name>.<pid>.tmp` beside `path`: where save_atomic writes before the rename (run/folder.py removes the
    ones of killed processes)."""
    return path.with_name(f".{path.name}.{os.getpid() if pid is None else pid}.tmp")


def save_atomic(trainer, path: str | Path, key: str = "callbacks.checkpoint.dirpath") -> Path:
    """`trainer.save_checkpoint` to a temporary file beside `path`, flushed to disk, then renamed over `path`.

    Lightning's own transaction writes to the system's temporary folder and then *copies* across filesystems
    (a cluster's /tmp is rarely the output disk), so a kill or a full disk mid-copy could truncate `path`.
    Here the previous file stays whole until the rename; a failed write (disk full, read-only) is one line.
    """
    path = Path(path)
    tmp = temporary_path(path)
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


def payload_sha256(state_dict: dict[str, Any]) -> str:
    """The sha256 of the tensors of a state_dict: name, dtype, shape and bytes of each, in sorted order."""
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        tensor = state_dict[name]
        if isinstance(tensor, torch.Tensor):
            digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
            digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def check_payload(checkpoint: dict[str, Any], path: Path, key: str) -> None:
    """Raise ConfigError when the stored sha256 of the weights is not theirs; nothing for older files."""
    stored = checkpoint.get(CHECKSUM)
    if stored is None:
        log.debug("%s has no %s (written before checksums): not verified", path, CHECKSUM)
    elif stored != payload_sha256(checkpoint["state_dict"]):
        raise ConfigError(f"{key}={str(path)!r} is damaged: its weights do not match the sha256 stored when it was "
                          "written; accepted: an intact checkpoint (an earlier copy, a kimg snapshot or best.ckpt)")


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
    check_payload(checkpoint, path, key)
    return checkpoint


def checkpoint_config(checkpoint: dict[str, Any], path: str | Path = "checkpoint") -> DictConfig:
    """The resolved config stored in a checkpoint."""
    config = checkpoint.get("config")
    if config is None:
        raise ConfigError(f"ckpt={str(path)!r} carries no config (written before configs were stored); "
                          "accepted: a checkpoint written by this version of train.py")
    return OmegaConf.create(_current_targets(config))


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
    checkpoint = read_checkpoint(path, map_location)
    cfg = checkpoint_config(checkpoint, path)
    module = instantiate_module(cfg)
    module.run_config = OmegaConf.to_container(cfg)
    check_weights_fit(module, checkpoint, path)
    module.load_state_dict(checkpoint["state_dict"])
    module.on_load_checkpoint(checkpoint)
    return module.eval()


def instantiate_module(cfg: DictConfig, check_optimizer=lambda factory, key: factory) -> torch.nn.Module:
    """The LightningModule of `cfg` with its nets, loss, regularizer and optimizer factories; `check_optimizer`
    vets each optimizer factory (train.py checks the typed arguments; a stored config was checked already)."""
    return instantiate(
        cfg.module,
        generator=instantiate(cfg.arch.generator),
        discriminator=instantiate(cfg.arch.discriminator),
        loss=instantiate(cfg.loss),
        regularizer=instantiate(cfg.regularizer),
        g_optimizer=check_optimizer(instantiate(cfg.optimizer.generator), "optimizer.generator"),
        d_optimizer=check_optimizer(instantiate(cfg.optimizer.discriminator), "optimizer.discriminator"),
        augment=instantiate(cfg.augment) if cfg.get("augment") else None,  # configs older than augment= have none
    )
