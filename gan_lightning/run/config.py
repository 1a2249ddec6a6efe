"""Compose the project's Hydra config outside `python train.py`, and the resolvers conf/hydra/default.yaml uses.

The resolvers are registered when this module is imported (train.py imports it before `@hydra.main`):
- `gan.run_dir`: a resumed run (`ckpt_path=<run>/checkpoints/last.ckpt`) continues in `<run>`; else the default.
- `gan.hydra_subdir`: `.hydra` for a folder's first launch, `.hydra-2`, `.hydra-3`, ... for later ones, so
  Hydra's record of the first launch is never overwritten.
- `gan.sweep_subdir`: multirun folders named `<num>_<swept overrides>`, short and safe for any filesystem.
- `gan.run_id`: a random id, resolved once into the run's config (a resumed wandb run keeps it).
- `gan.mixed_precision`: `bf16-mixed` where the CUDA GPU (or a machine without one) supports bf16, else `16-mixed`.
- `gan.sweep_group`: the sweep folder's name in a multirun (wandb groups a sweep's runs by it); else null.
- `gan.tags`: the run's overrides (`loss=hinge`, ...), at most 64 characters each (wandb's limit).
- `gan.sqlite`: `sqlite:///<absolute path>` with the parent folder created (Optuna's study storage).
- `gan.if_exists`: the path when that file exists, else null (launcher=slurm: a requeued job resumes).
- `gan.image_size`: [height, width] of the image `dataset=single_image` serves (arch=singan's sizes).
- `gan.pyramid_kimg`: the run length that trains every scale of arch=singan's pyramid for kimg_per_scale.
"""
import functools
import logging
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import InterpolationResolutionError

from gan_lightning.errors import ConfigError

CONF_DIR = Path(__file__).resolve().parents[2] / "conf"


def checkpoint_run_dir(ckpt_path: str | None, default: str) -> str:
    """`<run>` for a checkpoint at `<run>/checkpoints/<file>` or for a run folder; `default` for anything else."""
    if ckpt_path:
        path = Path(str(ckpt_path))
        if path.is_dir():  # a run folder, or its checkpoints/ folder (the newest checkpoint is resumed)
            return str(path.parent if path.name == "checkpoints" else path)
        if path.parent.name == "checkpoints" and path.parent.parent.is_dir():
            return str(path.parent.parent)
    return default


def hydra_subdir(output_dir: str) -> str:
    """`.hydra` unless this folder has one already; then the first free `.hydra-<n>`, n >= 2."""
    n = 1
    while (Path(output_dir) / (".hydra" if n == 1 else f".hydra-{n}")).exists():
        n += 1
    return ".hydra" if n == 1 else f".hydra-{n}"


def sweep_subdir(num: int, overrides: list[str], argv: list[str] | None = None, max_length: int = 80) -> str:
    """`<num, 3 digits>_<swept overrides>`, e.g. `003_loss=hinge,regularizer=r1`, safe for any filesystem.

    Only the keys swept on the command line (`loss=ns,hinge`) or in `hydra.sweeper.params` name the folder, so
    that what differs between the runs is what one reads; other characters than letters, digits and `._=,+-`
    become `_`.
    """
    swept = _swept_keys(sys.argv[1:] if argv is None else argv) | _config_swept_keys()
    items = [str(o) for o in overrides if not swept or str(o).split("=", 1)[0].lstrip("+~") in swept]
    name = re.sub(r"[^A-Za-z0-9._=,+-]", "_", ",".join(sorted(items)))[:max_length]
    return f"{int(num):03d}_{name}" if name else f"{int(num):03d}"


def _swept_keys(args: list[str]) -> set[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        overrides = OverridesParser.create().parse_overrides([a for a in args if not a.startswith("-")])
    except Exception:
        return set()
    return {o.key_or_group for o in overrides if o.is_sweep_override()}


def sweep_group() -> str | None:
    """The sweep folder's name (e.g. `2026-11-24_12-00-00`) in a multirun job, else None."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return Path(str(HydraConfig.get().sweep.dir)).name


def override_tags() -> list[str]:
    """The job's overrides as tags, as typed or set by the sweeper (`loss=hinge`), at most 64 characters each."""
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task) if HydraConfig.initialized() else []
    return [str(o).lstrip("+~")[:64] for o in overrides if not str(o).startswith(("hydra.", "ckpt_path="))]


def sqlite_url(path: str) -> str:
    """`sqlite:///<absolute path>`, its folder created: SQLite makes the file but not the folders above it."""
    file = Path(path).expanduser().resolve()
    file.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{file}"


def _config_swept_keys() -> set[str]:
    """The keys of `hydra.sweeper.params` (a sweep an experiment or an hparams_search config defines), and
    those swept on the command line as `<sweep dir>/multirun.yaml` records them: a job that runs in a process
    of its own (submitit, SLURM) does not see the command line in sys.argv."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return set()
    keys = {str(key) for key in (HydraConfig.get().sweeper.get("params") or {})}
    record = Path(str(HydraConfig.get().sweep.dir)) / "multirun.yaml"
    if record.is_file():
        typed = OmegaConf.to_container(OmegaConf.load(record).hydra.overrides.task, resolve=False)  # as typed
        keys |= _swept_keys([str(o) for o in typed])
    return keys


def if_exists(path: str) -> str | None:
    """`path` when it is a file (a requeued job finds its own last.ckpt), else None (a fresh start)."""
    return path if Path(path).is_file() else None


class DropAdverts(logging.Filter):
    """Keeps Lightning's advertisement for its cloud logger out of train.log."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in record.getMessage()


class ReportOnceFileHandler(logging.FileHandler):
    """train.log's handler: a write that fails with OSError (a full disk) is reported in one line on stderr, once,
    instead of logging's "--- Logging error ---" and a traceback for every line; later lines are tried again."""

    failed = False

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, OSError):
            return super().handleError(record)
        if not self.failed:
            self.failed = True
            sys.stderr.write(f"warning: cannot write {self.baseFilename} ({error.strerror or error}); its lines "
                             "are lost until there is room, the console still gets them\n")


def mixed_precision() -> str:
    """The trainer precision for mixed-precision training on this machine's GPU."""
    import torch

    if torch.cuda.is_available() and not torch.cuda.is_bf16_supported(including_emulation=False):
        return "16-mixed"
    return "bf16-mixed"
CACHED = ("gan.run_dir", "gan.hydra_subdir", "gan.run_id")  # drawn once: a run's folder, record and id


class ResolverError(ConfigError, InterpolationResolutionError):
    """A ConfigError from a resolver: OmegaConf lets this type through (it wraps others into a message) and
    appends the key on lines of its own, which the one-line message leaves out."""

    def __str__(self) -> str:
        return super().__str__().split("\n")[0]


def one_line_resolver(resolver: Callable[..., Any]) -> Callable[..., Any]:
    """`resolver` with its ConfigErrors raised as ResolverErrors, so train.py prints them as one line."""

    @functools.wraps(resolver)
    def wrapped(*args: Any) -> Any:
        try:
            return resolver(*args)
        except ConfigError as error:
            raise ResolverError(str(error)) from None

    return wrapped


@one_line_resolver
def image_size(path: str | None, max_size: int) -> list[int]:
    """[height, width] of the image at `path` with its long side at most `max_size` (the header is read)."""
    from gan_lightning.data.single_image import (
        image_size as size,  # imported late: `--help` needs no torch
    )

    if path == "NO_PATH":  # conf/arch/singan.yaml's stand-in for a dataset without `path`
        raise ConfigError("arch=singan needs dataset=single_image; accepted: dataset=single_image "
                          "[dataset.path=/path/to/photo.jpg], or experiment=singan")
    return size(path, max_size)


@one_line_resolver
def pyramid_kimg(img_size: list[int], min_size: int, scale_factor: float, kimg_per_scale: float) -> float:
    """Scales of SinGAN's pyramid for an image of `img_size` [height, width], times kimg_per_scale."""
    from gan_lightning.training.callbacks.singan import pyramid_kimg as kimg

    return kimg(img_size, min_size, scale_factor, kimg_per_scale)


def _register() -> None:
    resolvers = {
        "gan.run_dir": checkpoint_run_dir,
        "gan.hydra_subdir": hydra_subdir,
        "gan.sweep_subdir": sweep_subdir,
        "gan.run_id": lambda: secrets.token_hex(4),
        "gan.mixed_precision": mixed_precision,
        "gan.sweep_group": sweep_group,
        "gan.tags": override_tags,
        "gan.sqlite": sqlite_url,
        "gan.if_exists": if_exists,
        "gan.image_size": image_size,
        "gan.pyramid_kimg": pyramid_kimg,
    }
    for name, resolver in resolvers.items():
        if not OmegaConf.has_resolver(name):  # cached: a run's id or folder is drawn once
            OmegaConf.register_new_resolver(name, resolver, use_cache=name in CACHED)


_register()


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
