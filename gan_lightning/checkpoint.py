"""A checkpoint alone rebuilds its run: the resolved config travels inside it, under `config`.

`load_module(path)` composes nothing and needs no command line: it instantiates G, D, G_ema, loss and
regularizer from the stored config and loads their weights and the images-seen clock. Checkpoints are
read with `torch.load(weights_only=True)`: a file that would need arbitrary code to load is refused.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from gan_lightning.errors import ConfigError


def resolved_config(cfg: DictConfig) -> dict[str, Any]:
    """The run's config as plain data, every interpolation filled in, without Hydra's own node."""
    # node by node: Hydra's own node (present in composed configs) has values that only exist in a job
    return {key: OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            for key, value in cfg.items() if key != "hydra"}


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint's contents, loaded without running code; a clear error for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ckpt={str(path)!r} does not exist; accepted: a checkpoint file such as "
                          "outputs/runs/<run>/checkpoints/last.ckpt")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # not a torch file, truncated, or a pickle that needs code to load
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise ConfigError(f"ckpt={str(path)!r} is not a gan_lightning checkpoint that loads safely ({reason}); "
                          "accepted: a last.ckpt written by train.py") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise ConfigError(f"ckpt={str(path)!r} holds no state_dict; accepted: a last.ckpt written by train.py")
    return checkpoint


def checkpoint_config(checkpoint: dict[str, Any], path: str | Path = "checkpoint") -> DictConfig:
    """The resolved config stored in a checkpoint."""
    config = checkpoint.get("config")
    if config is None:
        raise ConfigError(f"ckpt={str(path)!r} carries no config (written before configs were stored); "
                          "accepted: a checkpoint written by this version of train.py")
    return OmegaConf.create(config)


def load_module(path: str | Path, map_location: str | torch.device = "cpu"):
    """The GAN module of a checkpoint (G, D, G_ema with their weights, the clock), in eval mode."""
    from gan_lightning.build import build_module  # build imports this module

    checkpoint = read_checkpoint(path, map_location)
    cfg = checkpoint_config(checkpoint, path)
    module = build_module(cfg)
    module.run_config = OmegaConf.to_container(cfg)
    module.load_state_dict(checkpoint["state_dict"])
    module.on_load_checkpoint(checkpoint)
    return module.eval()
