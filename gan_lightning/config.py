"""Compose the project's Hydra config outside `python train.py` (tests, benchmarks, notebooks)."""
from pathlib import Path

from omegaconf import DictConfig

CONF_DIR = Path(__file__).resolve().parents[1] / "conf"


def compose(overrides: list[str], output_dir: str | Path | None = None, config_name: str = "train") -> DictConfig:
    """The config `python train.py <overrides>` would run with, writing under `output_dir`.

    config_name="evaluate" or "generate" composes those commands' configs instead.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    extra = [f"paths.output_dir={output_dir}"] if output_dir is not None else []
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = hydra_compose(config_name, overrides=[*overrides, *extra], return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)  # so ${hydra:...} interpolations resolve
    return cfg
