"""Bad input from the command line, as one line a user can act on (the key, the value, what is accepted)."""
from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.utils import get_class
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from gan_lightning.errors import ConfigError, check_number

if TYPE_CHECKING:
    import torch

# top-level scalars: key -> keyword arguments of errors.check_number (bounds, integer, null accepted)
SCALARS = {
    "total_kimg": {"low": 0, "above": True, "nullable": True},
    "total_g_steps": {"low": 1, "integer": True, "nullable": True},
    "n_critic": {"low": 1, "integer": True},
    "batch_size": {"low": 1, "integer": True},
    "z_dim": {"low": 1, "integer": True},
    "c_dim": {"low": 0, "integer": True},
    "seed": {"low": 0, "high": 2**32 - 1, "integer": True},  # numpy's seed range (seed_everything)
}

HARDWARE_KEYS = ("accelerator", "devices", "strategy", "num_nodes", "precision")  # lightning.Trainer's device arguments


def config_keys(cfg: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a config (nodes and leaves), without resolving interpolations."""
    keys = []
    items = cfg.items_ex(resolve=False) if isinstance(cfg, DictConfig) and not cfg._is_none() else []
    for key, value in items:
        path = f"{prefix}{key}"
        keys.append(path)
        if isinstance(value, DictConfig) and key != "hydra":
            keys.extend(config_keys(value, f"{path}."))
    return keys


def unknown_key(args: list[str], check_run_dir: bool = False) -> str | None:
    """One line for an override of a key the config lacks (with a did-you-mean), or with `check_run_dir` for a
    run folder that cannot be created (Hydra's own attempt ends in a traceback); else None.

    Hydra says "Could not override ... Key not in struct"; this composes the command line once more to name
    the nearest keys. Flags (-m, --help, --cfg) and anything that fails otherwise are left to Hydra.
    """
    if any(arg.startswith("-") for arg in args):
        return None
    repeated = repeated_option(args)
    if repeated is not None:
        return repeated
    from hydra.errors import ConfigCompositionException

    from gan_lightning.run.config import compose

    try:
        cfg = compose(args)
        return unwritable(cfg.hydra.run.dir, "hydra.run.dir") if check_run_dir else None
    except ConfigCompositionException as error:
        match = re.match(r"Could not override '([^']+)'", str(error))
        if match is None:
            return None
        key = match.group(1)
    except Exception:
        return None
    rest = [arg for arg in args if not arg.split("=", 1)[0].lstrip("+~") == key]
    try:
        keys = [k for k in config_keys(compose(rest)) if not k.startswith("hydra")]
    except Exception:
        keys = []
    parent, _, name = key.rpartition(".")
    siblings = [k.rpartition(".")[2] for k in keys if k.rpartition(".")[0] == parent]
    near = [f"{parent}.{match}" if parent else match for match in difflib.get_close_matches(name, siblings, n=2)]
    near = near or [k for k in difflib.get_close_matches(key, keys, n=3, cutoff=0.75) if k != parent][:2]
    hint = f"did you mean {' or '.join(near)}?" if near else "`python train.py --cfg job` prints every key"
    if parent == "regularizer" and not near:  # penalties sit under their option: regularizer=[r1,r2]
        hint = (f"each penalty's keys are under its name: regularizer.<option>.{name} "
                f"(e.g. regularizer=r1 regularizer.r1.{name}=...)")
    return f"{key} is not a key of the config; {hint}"


def unparsable(args: list[str]) -> str | None:
    """One line for an override that Hydra's grammar rejects (a non-ASCII character, brackets or parentheses in a
    path), with the quoting Hydra accepts; else None. Hydra's own error is a LexerNoViableAltException."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    for arg in args:
        key, equals, value = arg.partition("=")
        if arg.startswith("-") or not equals:
            continue  # flags, and the word after --cfg, are Hydra's
        try:
            parser.parse_override(arg)
        except Exception as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            quoted = value.replace("\\", "\\\\").replace('"', '\\"')
            return (f"{key}={value!r} is rejected by Hydra's override grammar ({reason}); accepted: the value in "
                    f"double quotes, and the whole override in single quotes for the shell: '{key}=\"{quoted}\"'")
    return None


def repeated_option(args: list[str]) -> str | None:
    """One line for a group chosen twice in one list (`regularizer=[r1,r1]`), which Hydra would quietly
    merge into one; else None."""
    for arg in args:
        group, _, value = arg.lstrip("+~").partition("=")
        if "." in group or not (value.startswith("[") and value.endswith("]")):
            continue
        options = [option.strip() for option in value[1:-1].split(",") if option.strip()]
        twice = next((option for option in options if options.count(option) > 1), None)
        if twice is not None:
            return (f"{group}={value} has {twice} twice; accepted: each option once, e.g. {group}=[r1,r2] "
                    f"(the weight of each is {group}.<option>.weight)")
    return None


def unwritable(folder: str | Path, key: str) -> str | None:
    """Why `folder` cannot be created or written (its nearest existing parent is a file or read-only), or None."""
    path = Path(folder).expanduser().absolute()
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None:
        return None
    if not existing.is_dir():
        reason = f"{existing} is a file"
    elif not os.access(existing, os.W_OK | os.X_OK):
        reason = f"{existing} is read-only"
    else:
        return None
    return (f"{key}={str(folder)!r} cannot be written ({reason}); accepted: a folder this user can write, "
            "e.g. hydra.run.dir=outputs/runs/<name>")


def check_scalars(cfg: DictConfig) -> None:
    """Raise ConfigError for a top-level scalar of the wrong type or range (`total_kimg=abc`, `z_dim=-3`)."""
    for key, bounds in SCALARS.items():
        check_number(key, cfg.get(key), **bounds)


def drop_unchosen_penalties(cfg: DictConfig) -> list[str]:
    """Remove `regularizer.<name>` entries that have settings but no `_target_`, and return their names.

    Such an entry comes from a preset for a penalty the command line replaced: arch=pggan loss=wgangp
    (conf/arch_loss/pggan_wgangp.yaml) sets `regularizer.gp.*` for WGAN-GP's penalty, and `regularizer=r1`
    chooses R1 instead. A key typed on the command line for a penalty not chosen is refused before this
    (unknown_key). The run's config.yaml then lists only the penalties that run.
    """
    node = cfg.get("regularizer")
    if not isinstance(node, DictConfig) or "_target_" in node:
        return []
    unchosen = [str(key) for key, entry in node.items_ex(resolve=False)
                if isinstance(entry, DictConfig) and "_target_" not in entry]
    with open_dict(node):
        for key in unchosen:
            node.pop(key)
    return unchosen


def check_partial(factory: partial, key: str) -> partial:
    """Raise ConfigError when a `_partial_` config (an optimizer) names arguments its class does not take."""
    try:
        inspect.signature(factory.func).bind_partial(*factory.args, **factory.keywords)
    except TypeError as error:
        target = f"{factory.func.__module__}.{factory.func.__qualname__}"
        unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(error))
        what = f"{key}.{unexpected.group(1)} is not an argument of {target}" if unexpected else f"{key}: {error}"
        raise ConfigError(f"{what}; accepted: {', '.join(_parameters(factory.func)[1:])}") from None
    import torch  # here: train.py imports this module, and `--help` needs no torch

    if isinstance(factory.func, type) and issubclass(factory.func, torch.optim.Optimizer):
        _check_optimizer(factory, key)
    return factory


def _check_optimizer(factory: partial, key: str) -> None:
    """Raise ConfigError for an optimizer argument of the wrong type or range (`lr=-1`, `betas=[2, 0]`),
    found by building the optimizer once on a dummy parameter before training starts."""
    import torch

    defaults = {name: p.default for name, p in inspect.signature(factory.func).parameters.items()}
    for name, value in factory.keywords.items():
        default = defaults.get(name)
        if isinstance(default, float) or name == "lr":
            check_number(f"{key}.{name}", value, 0)
        elif isinstance(default, tuple) and all(isinstance(d, float) for d in default):
            if not isinstance(value, (list, tuple)) or len(value) != len(default):
                raise ConfigError(f"{key}.{name}={value!r} is not supported; accepted: {len(default)} numbers")
            for i, item in enumerate(value):
                check_number(f"{key}.{name}[{i}]", item, 0, 1 if name == "betas" else None)
    try:
        factory([torch.nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError) as error:  # torch's own range checks, e.g. "Invalid beta parameter at index 0"
        target = f"{factory.func.__module__}.{factory.func.__qualname__}"
        raise ConfigError(f"{key}: {error} (in {target}); accepted: the values {target} documents") from None


def _parameters(target: Any) -> list[str]:
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [name for name, p in signature.parameters.items() if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def instantiate_error(error: BaseException, cfg: DictConfig, typed: list[str] = ()) -> str | None:
    """One line for an exception raised inside hydra's instantiate: the key (and what the user typed under it),
    the reason, and what is accepted where the reason does not say."""
    from hydra.errors import InstantiationException

    if not isinstance(error, InstantiationException):
        return None
    match = re.search(r"full_key: (\S+)", str(error))
    key = match.group(1) if match else "config"
    cause = error.__cause__ or error
    reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    node = OmegaConf.select(cfg, key) if match else None
    unexpected = re.search(r"unexpected keyword argument '(\w+)'", reason)
    if unexpected and isinstance(node, DictConfig) and "_target_" in node:
        try:
            accepted = ", ".join(_parameters(get_class(node._target_)))
        except Exception:
            accepted = ""
        return f"{key}.{unexpected.group(1)} is not an argument of {node._target_}; accepted: {accepted}"
    mine = list({o.lstrip("+~").split("=", 1)[0]: o for o in typed  # a key typed twice: the last one counts
                 if o.lstrip("+~").split("=", 1)[0].startswith(f"{key}.")}.values())
    named = [o for o in mine if re.search(rf"\b{re.escape(o.lstrip('+~').split('=', 1)[0].rsplit('.', 1)[-1])}\b", reason)]
    hardware = any(word in reason.lower() for word in ("accelerator", "backend"))
    if hardware:  # "No supported gpu backend found!" is about the device keys, not e.g. trainer.max_steps
        named = named or [o for o in mine if o.lstrip("+~").split("=", 1)[0].rsplit(".", 1)[-1] in HARDWARE_KEYS]
    where = ", ".join(named or mine) if mine else key  # the typed keys the reason names, else all under the node
    if key == "trainer" and hardware and "accepted" not in reason:
        reason = f"{reason}; accepted on this machine: auto, {', '.join(sorted(_usable_accelerators()))}"
    if isinstance(node, (DictConfig, ListConfig)) and "_target_" in node:
        return f"{where}: {reason} (in {node._target_})"
    return f"{where}: {reason}"


def _usable_accelerators() -> list[str]:
    from lightning.pytorch.accelerators import AcceleratorRegistry

    return [name for name in AcceleratorRegistry.available_accelerators()
            if AcceleratorRegistry[name]["accelerator"].is_available()]



def one_line_errors(fn: Callable[..., Any], *args: Any, also: tuple[type, ...] = ()) -> Any:
    """Call fn(*args); a ConfigError (or one of `also`), even wrapped by instantiate(), exits with one line."""
    try:
        return fn(*args)
    except Exception as error:  # instantiate() wraps errors of constructors: find ours in the chain
        cause = error
        while cause is not None and not isinstance(cause, (ConfigError, *also)):
            cause = cause.__cause__
        if cause is None:
            raise
        raise SystemExit(f"error: {cause}") from None


def require_ckpt(cfg: DictConfig, entry: str, example: str, alternative: str = "") -> None:
    """Raise ConfigError when `ckpt` was not given (??? or null), with a command line that sets it."""
    if OmegaConf.is_missing(cfg, "ckpt") or cfg.ckpt is None:
        raise ConfigError(f"ckpt must be set; accepted: a checkpoint written by train.py, e.g. python -m "
                          f"gan_lightning.{entry} ckpt=outputs/runs/<run>/checkpoints/last.ckpt {example}".rstrip()
                          + alternative)


def pick_device(name: str) -> torch.device:
    """`auto` is cuda when available, else cpu."""
    import torch  # here: train.py imports this module, and `--help` needs no torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device={name!r} is not supported; accepted: auto, cpu, cuda, cuda:<index>") from None
