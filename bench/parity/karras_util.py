"""What the parity scripts of the Karras, SinGAN and BEGAN families share: load one reference file from a
local checkout without importing its package (so nothing the file does not need is imported, torchvision
included), seed everything, and write a fixture.

A fixture is one .npz under tests/fixtures/parity/: `config` (JSON: our class path and its arguments),
`w/<name>` (every tensor of our net's state dict, under our names), `in/<name>` (the inputs) and
`out/<name>` (what the reference computed). tests/test_parity_karras.py reads them.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import types
from pathlib import Path

import numpy as np
import torch

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "parity"
MAX_BYTES = 2 * 1024 * 1024


def parse_ref(doc: str) -> Path:
    """The --ref DIR argument (a local checkout of the reference repository)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--ref", required=True, type=Path, help="local checkout of the reference repository")
    return parser.parse_args().ref


def load_file(path: Path, name: str, stubs: dict[str, dict] | None = None) -> types.ModuleType:
    """Import the single file `path` as module `name`; `stubs` adds stand-in modules {module: {attr: value}}
    for imports the file makes but the compared code never uses."""
    if not path.is_file():
        sys.exit(f"{path} not found: pass --ref the root of a checkout of the reference repository")
    for module, attrs in (stubs or {}).items():
        sys.modules[module] = types.SimpleNamespace(**attrs)  # type: ignore[assignment]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def import_from(root: Path, module: str) -> types.ModuleType:
    """Import `module` (dotted, relative imports allowed) from the checkout at `root`."""
    if not (root / (module.replace(".", "/") + ".py")).is_file():
        sys.exit(f"{module} not found under {root}: pass --ref the root of a checkout of the reference repository")
    sys.path.insert(0, str(root))
    return importlib.import_module(module)


def seed(value: int = 0) -> None:
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def randomize(module: torch.nn.Module, scale: float = 0.5) -> None:
    """Give every parameter a random value (inits leave biases and noise scales at 0, which would hide them)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p) * scale)


def write(family: str, target: str, kwargs: dict, weights: dict, inputs: dict, outputs: dict, **meta) -> Path:
    """Write tests/fixtures/parity/<family>.npz; refuse a fixture over 2 MB."""
    arrays = {"config": np.array(json.dumps({"target": target, "kwargs": kwargs, **meta}))}
    for prefix, tensors in (("w", weights), ("in", inputs), ("out", outputs)):
        for key, value in tensors.items():
            value = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
            arrays[f"{prefix}/{key}"] = value.astype(np.float32) if value.dtype == np.float64 else value
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"{family}.npz"
    np.savez_compressed(path, **arrays)
    size = path.stat().st_size
    if size > MAX_BYTES:
        path.unlink()
        sys.exit(f"{path.name} is {size} bytes, over the 2 MB limit: make the nets narrower")
    print(f"wrote {path} ({size} bytes, {len(weights)} weights, outputs: {', '.join(outputs)})")
    return path
