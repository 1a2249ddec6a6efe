"""Resume a run from its checkpoint alone: the config stored in it is the run's config.

`python train.py ckpt_path=<run>/checkpoints/last.ckpt` restores the run as it was. Keys typed on the
command line are checked against the stored config: those in RESUMABLE (run length, logging, preview and
checkpoint intervals, loggers, devices, where data and outputs live) are applied and recorded; any other
key whose value would change (nets, loss, regularizer, optimizer, data, seed, batch size, EMA, ...) is
refused in one line, since the restored weights and optimizer state were made with the stored values.
Typing a key with its stored value is accepted, so a run's original command line resumes it too.
"""
from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lightning.errors import ConfigError

# Keys (and everything under them) that may change when a run is resumed.
RESUMABLE = (
    "ckpt_path", "total_kimg", "total_g_steps", "module.total_kimg", "module.total_g_steps",
    "callbacks.*.every_kimg", "callbacks.preview", "callbacks.log", "callbacks.checkpoint", "callbacks.progress",
    "callbacks.metrics", "metrics", "optimized_metric",
    "logger", "trainer", "paths", "dataset.root", "dataset.num_workers", "choices.logger", "choices.trainer",
)
_MISSING = object()
_REFERENCE = re.compile(r"\$\{([\w.]+)\}")  # plain interpolations ${a.b}; resolvers (${x:...}) are not keys


def resumable(key: str) -> bool:
    """Whether `key` may change on resume (it or a parent matches RESUMABLE)."""
    parts = key.split(".")
    return any(fnmatchcase(".".join(parts[:i]), pattern) for i in range(1, len(parts) + 1) for pattern in RESUMABLE)


def typed_keys(overrides: list[str]) -> list[str]:
    """The keys (or groups) of the command-line overrides, Hydra's own excluded."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    keys = [o.key_or_group for o in OverridesParser.create().parse_overrides(overrides)]
    return [key.split("@")[0] for key in keys if not key.startswith("hydra")]


def _leaves(node: Any, prefix: str = "") -> dict[str, Any]:
    """{dotted key: raw value} for every leaf of a container."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            out.update(_leaves(value, f"{prefix}{key}."))
        return out or {prefix[:-1]: node}
    return {prefix[:-1]: node}


def _affected(key: str, raw: dict[str, Any]) -> set[str]:
    """`key` and every leaf whose value interpolates it, directly or through other leaves."""
    found, frontier = {key}, [key]
    while frontier:
        target = frontier.pop()
        for leaf, value in raw.items():
            if leaf in found or not isinstance(value, str):
                continue
            refs = _REFERENCE.findall(value)
            if any(ref == target or ref.startswith(target + ".") or target.startswith(ref + ".") for ref in refs):
                found.add(leaf)
                frontier.append(leaf)
    return found


def _value(cfg: DictConfig, key: str) -> Any:
    node = OmegaConf.select(cfg, key, default=_MISSING, throw_on_missing=False)
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _rebase(value: Any, old: str, new: str) -> Any:
    """Strings under the old location `old` moved to `new` (output folder or data folder of a new launch)."""
    if isinstance(value, dict):
        return {k: _rebase(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rebase(v, old, new) for v in value]
    if isinstance(value, str) and old and old != new and (value == old or value.startswith(old.rstrip("/") + "/")):
        return new + value[len(old):]
    return value


def resume_config(cfg: DictConfig, stored: DictConfig, overrides: list[str]) -> tuple[DictConfig, list[str]]:
    """The stored config with the allowed typed changes applied; and those changes, as 'key: old -> new'."""
    raw = {key: value for key, value in _leaves(OmegaConf.to_container(cfg, resolve=False)).items()
           if not key.startswith(("hydra.", "choices."))}
    run = OmegaConf.to_container(stored, resolve=True)
    for name, new in OmegaConf.to_container(cfg.paths, resolve=True).items():  # this launch's folders
        run = _rebase(run, str((run.get("paths") or {}).get(name, "")), str(new))
    run["paths"] = OmegaConf.to_container(cfg.paths, resolve=True)
    result = OmegaConf.create(run)
    changed, refused = [], []
    for key in typed_keys(overrides):
        if key.startswith("paths"):
            continue  # applied above by moving the stored locations
        present = any(OmegaConf.select(c, key, default=_MISSING) is not _MISSING for c in (cfg, stored))
        if not present and resumable(key):
            continue  # e.g. ~metrics.list.kid_mnist, deleted in both: nothing to check
        affected = _affected(key, raw) if present else set(raw)  # a global group (experiment=...) may set anything
        for leaf in sorted(affected, key=lambda leaf: (leaf != key, leaf)):  # the typed key first
            new, old = _value(cfg, leaf), _value(result, leaf)
            if _unchanged(leaf, key, new, old, result):
                continue
            if not resumable(leaf):
                refused.append(f"{key} ({_difference(leaf, old, new)})")
                break
            if new is _MISSING:
                parent, _, name = leaf.rpartition(".")
                node = OmegaConf.select(result, parent) if parent else result
                with open_dict(node):
                    node.pop(name, None)
            else:
                OmegaConf.update(result, leaf, new, merge=False, force_add=True)
            if leaf == key and key != "ckpt_path":
                changed.append(_difference(leaf, old, new))
    if refused:
        raise ConfigError(
            f"ckpt_path resumes the run with the config stored in its checkpoint; refused: {'; '.join(refused)}. "
            "Accepted on resume: total_kimg, total_g_steps, callbacks.*.every_kimg, callbacks.preview|log|checkpoint"
            "|progress, logger, trainer, paths, dataset.root, dataset.num_workers; start a new run to change the rest")
    return result, changed


def _unchanged(leaf: str, key: str, new: Any, old: Any, stored: DictConfig) -> bool:
    """Whether the run's stored value stands, options added by a newer version aside: a key that a typed group
    brings but the stored config lacks under a parent it holds (augment.probability.cutout for a run stored
    before it existed) is not a change; the stored config is kept without it, so its constructor default applies,
    as when the run was trained. A key typed itself is compared as is."""
    if old is _MISSING:
        parent = leaf.rpartition(".")[0]
        return new is _MISSING or (leaf != key and bool(parent) and
                                   OmegaConf.is_dict(OmegaConf.select(stored, parent, default=None)))
    return _without_added(new, old) == old


def _without_added(new: Any, old: Any) -> Any:
    """`new` without the keys `old` lacks, at every level where both are dicts."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: _without_added(v, old[k]) for k, v in new.items() if k in old}
    return new


def _difference(key: str, old: Any, new: Any) -> str:
    """'key: old -> new' for the first leaf where two values differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for name in sorted(set(old) | set(new), key=lambda name: (name != "_target_", name)):
            a, b = old.get(name, _MISSING), new.get(name, _MISSING)
            if a != b:
                return _difference(f"{key}.{name}", a, b)
    return f"{key}: {_show(old)} -> {_show(new)}"


def _show(value: Any) -> str:
    text = "(none)" if value is _MISSING else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
