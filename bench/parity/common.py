"""What every bench/parity script shares: import reference files from a local checkout, map weights by an
explicit name table, and write a fixture for tests/test_parity.py.

A fixture `tests/fixtures/parity/<name>.npz` holds `meta` (JSON: which class of ours, its arguments, the mode,
the tolerance and its reason, the reference and its commit), `w/<our state_dict key>` (the reference's weights
under our names), `in/<name>` (z, c, x, logits) and `out/<name>` (the reference's outputs and gradients).
Nothing of ours runs to make `out/`; each script only checks, after writing, that ours agrees.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "parity"
MAX_BYTES = 2 * 1024 * 1024


def parse_ref(doc: str, what: str) -> Path:
    """The --ref DIR of a parity script (a checkout of `what`), with the script's docstring as its help."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", type=Path, required=True, help=f"a checkout of {what}")
    return parser.parse_args().ref


def commit_of(ref: Path) -> str:
    """The reference checkout's commit: `git rev-parse HEAD`, else the file REF_COMMIT in it, else 'unknown'."""
    try:
        return subprocess.run(["git", "-C", str(ref), "rev-parse", "HEAD"], check=True, capture_output=True,
                              text=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        marker = ref / "REF_COMMIT"
        return marker.read_text().strip() if marker.exists() else "unknown"


def stub_modules(*names: str) -> None:
    """Empty modules for imports a reference file makes but never uses here (torchvision, tqdm, ...)."""
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = types.ModuleType(name)


def import_package(root: Path, package: str, module: str) -> types.ModuleType:
    """Import `package.module` from `root` without running `package/__init__.py` (which imports the world)."""
    if package not in sys.modules:
        stub = types.ModuleType(package)
        stub.__path__ = [str(root / package)]
        sys.modules[package] = stub
    return importlib.import_module(f"{package}.{module}")


def import_file(root: Path, module: str) -> types.ModuleType:
    """Import a top-level module of a reference checkout that is not a package (BigGAN-PyTorch's layers.py)."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    return importlib.import_module(module)


def load_functions(path: Path, names: list[str], namespace: dict) -> dict:
    """Execute only the top-level functions `names` of the file at `path` (its other imports never run)."""
    tree = ast.parse(path.read_text())
    nodes = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name in names]
    missing = set(names) - {node.name for node in nodes}
    if missing:
        raise SystemExit(f"{path}: no function {sorted(missing)}")
    exec(compile(ast.Module(body=nodes, type_ignores=[]), str(path), "exec"), namespace)
    return {name: namespace[name] for name in names}


# --- weights -------------------------------------------------------------------------------------------------

def biggan_sn_vectors(weight: torch.Tensor, u0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """BigGAN-PyTorch's SN takes one power step from its stored u0 at every call, training or not:
    v = normalize(u0 W), u = normalize(v W^T), sigma = v W^T u^T. Ours in eval mode computes u^T W v from its
    stored (u, v), so storing this (u, v) gives the same sigma."""
    w = weight.flatten(1)
    v = F.normalize(u0.reshape(1, -1) @ w, eps=1e-12)
    u = F.normalize(v @ w.T, eps=1e-12)
    return u.flatten(), v.flatten()


def warm_up(net: torch.nn.Module, *inputs: torch.Tensor, steps: int = 3) -> None:
    """A few training-mode forwards of a reference net: its spectral norms' (u, v) move towards the top singular
    vectors (so sigma is not tiny) and its BatchNorm running statistics move off (0, 1)."""
    net.train()
    with torch.no_grad():
        for _ in range(steps):
            net(*inputs)


def freeze_spectral(net: torch.nn.Module) -> torch.nn.Module:
    """Put the layers with torch's old spectral-norm hook in eval mode: sigma = u^T W v from the stored
    (u, v), the formula of our parametrization in eval mode. (Both differ in training mode: the old hook
    steps v then u, the parametrization u then v.) BatchNorm layers keep their mode."""
    for module in net.modules():
        if hasattr(module, "weight_orig"):
            module.eval()
    return net


def module_state(ref: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The state of one reference module in our vocabulary: weight / bias for plain layers; original, _u, _v
    for a spectral-normalized one (torch's old hook: weight_orig, weight_u, weight_v; BigGAN-PyTorch's:
    weight, u0; Mimicry's own SNLinear / SNEmbedding: weight, sn_u; see biggan_sn_vectors)."""
    get = {k[len(prefix) + 1:]: v for k, v in ref.items() if k.startswith(prefix + ".")}
    out = {}
    if "weight_orig" in get:
        out |= {"original": get["weight_orig"], "_u": get["weight_u"], "_v": get["weight_v"]}
    elif "u0" in get or "sn_u" in get:  # BigGAN-PyTorch's SN, or Mimicry's own (the same power step)
        u, v = biggan_sn_vectors(get["weight"], get.get("u0", get.get("sn_u")))
        out |= {"original": get["weight"], "_u": u, "_v": v}
    elif "weight" in get:
        out["weight"] = get["weight"]
    for ours, theirs in (("bias", "bias"), ("running_mean", "running_mean"), ("running_var", "running_var"),
                         ("num_batches_tracked", "num_batches_tracked"), ("gain", "gain"),
                         ("stored_mean", "stored_mean"), ("stored_var", "stored_var")):
        if theirs in get:
            out[ours] = get[theirs]
    return out


# our leaf -> the names module_state may give it
SUFFIXES = {"weight": ("weight", "gain"), "bias": ("bias",), "running_mean": ("running_mean", "stored_mean"),
            "running_var": ("running_var", "stored_var"), "num_batches_tracked": ("num_batches_tracked",),
            "parametrizations.weight.original": ("original",), "parametrizations.weight.0._u": ("_u",),
            "parametrizations.weight.0._v": ("_v",)}


def map_weights(ours: torch.nn.Module, ref: dict[str, torch.Tensor], table: list[tuple[str, str]],
                extra: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Our state dict filled from the reference's by `table` [(our module, reference module)], each naming the
    module that owns the leaves, plus `extra` (values that need a transform, by our key). Every key of ours
    must be filled, with the right number of elements."""
    target = ours.state_dict()
    filled = dict(extra or {})
    for our_prefix, ref_prefix in table:
        state = module_state(ref, ref_prefix)
        hits = 0
        for suffix, names in SUFFIXES.items():
            key = f"{our_prefix}.{suffix}"
            value = next((state[n] for n in names if n in state), None)
            if key in target and value is not None and key not in filled:
                filled[key], hits = value, hits + 1
        if not hits:
            raise SystemExit(f"row ({our_prefix!r}, {ref_prefix!r}) filled nothing")
    missing = [k for k in target if k not in filled and not k.endswith("num_batches_tracked")]
    if missing:
        raise SystemExit(f"no reference value for our keys {missing}")
    out = {}
    for key, value in filled.items():
        if value.numel() != target[key].numel():
            raise SystemExit(f"{key}: shape {tuple(value.shape)} vs ours {tuple(target[key].shape)}")
        out[key] = value.detach().reshape(target[key].shape).clone()
    return out


# --- fixtures ------------------------------------------------------------------------------------------------

def save_fixture(name: str, meta: dict, weights: dict[str, torch.Tensor], inputs: dict[str, torch.Tensor],
                 outputs: dict[str, torch.Tensor]) -> Path:
    """Write tests/fixtures/parity/<name>.npz (float32, compressed) and refuse one over 2 MB."""
    FIXTURES.mkdir(parents=True, exist_ok=True)
    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True))}
    for group, values in (("w", weights), ("in", inputs), ("out", outputs)):
        for key, value in values.items():
            arrays[f"{group}/{key}"] = value.detach().cpu().numpy()
    path = FIXTURES / f"{name}.npz"
    np.savez_compressed(path, **arrays)
    size = path.stat().st_size
    if size > MAX_BYTES:
        path.unlink()
        raise SystemExit(f"{path.name}: {size} bytes, over the 2 MB limit; use smaller widths")
    print(f"wrote {path.relative_to(REPO)} ({size / 1024:.0f} KiB)")
    return path


def d_outputs(discriminator: torch.nn.Module, x: torch.Tensor, c: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """A reference D's logits [N] and the input-gradient of their sum."""
    x = x.clone().requires_grad_(True)
    logits = (discriminator(x) if c is None else discriminator(x, c)).reshape(len(x))
    (grad,) = torch.autograd.grad(logits.sum(), x)
    return {"y": logits.detach(), "grad_x": grad}


def check_ours(name: str) -> None:
    """Run the test's comparison on the fixture just written and print the max abs errors."""
    sys.path.insert(0, str(REPO))
    from tests.test_parity import compare  # the loader the tests use

    for key, error, tol in compare(FIXTURES / f"{name}.npz"):
        print(f"  {name} {key}: max abs error {error:.3g} (tolerance {tol:g})")
