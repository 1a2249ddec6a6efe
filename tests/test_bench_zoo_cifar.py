"""bench/zoo_cifar.py (issue 24, item 2): every row composes and builds at its reduced width, the reference is
cached with its provenance, and one tiny row runs end to end (fake data, a random feature net: no Inception)."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_lightning.metrics import RandomFeatures
from gan_lightning.run.build import build_module
from gan_lightning.run.config import compose

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
zoo_cifar = pytest.importorskip("zoo_cifar")


@pytest.fixture
def cifar_folder(tmp_path) -> Path:
    """A fake CIFAR-10 image folder: 80 random 32x32 training images in 2 classes."""
    rng = np.random.default_rng(0)
    for i in range(80):
        folder = tmp_path / "cifar" / "train" / ("cat" if i % 2 else "dog")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(folder / f"{i:04d}.png")
    return tmp_path / "cifar"


@pytest.mark.parametrize("arch", list(zoo_cifar.ROWS))
def test_every_row_composes_and_builds_at_its_reduced_width(arch, tmp_path):
    cfg = compose([*zoo_cifar.ROWS[arch]["overrides"], "dataset.root=absent", *zoo_cifar.BUDGET], tmp_path)
    assert cfg.arch.generator._target_ == f"gan_lightning.nets.{arch}.Generator"
    assert cfg.dataset._target_.endswith("CIFAR10DataModule") and not cfg.metrics.list
    assert cfg.dataset.conditional == (arch in ("biggan", "r3gan"))  # the class-conditional presets stay so
    if arch in ("stylegan2", "r3gan"):
        assert cfg.arch.generator.output_tanh is False  # the presets' linear output, as the references
    cfg.c_dim = 10 if cfg.dataset.conditional else 0  # what build() reads from the data
    module = build_module(cfg)
    for net in (module.generator, module.discriminator):
        assert 5e4 < sum(p.numel() for p in net.parameters()) < 5e5
    c = torch.arange(2) if cfg.c_dim else None
    assert module.generate(2, c=c, seed=0).shape == (2, 3, 32, 32)


def test_reference_is_cached_with_its_provenance(cifar_folder, tmp_path, monkeypatch):
    features = RandomFeatures()
    first = zoo_cifar.Reference(str(cifar_folder), 12, str(tmp_path / "out"), features)
    assert first.features.shape == (12, features.dim) and first.path.name == "reference_12.pt"
    assert first.provenance["n"] == 12 and first.provenance["features"] == features.provenance()
    monkeypatch.setattr(zoo_cifar.Reference, "compute", lambda *a: pytest.fail("recomputed a matching cache"))
    again = zoo_cifar.Reference(str(cifar_folder), 12, str(tmp_path / "out"), features)
    torch.testing.assert_close(again.features, first.features)
    monkeypatch.undo()
    other = zoo_cifar.Reference(str(cifar_folder), 12, str(tmp_path / "out"), RandomFeatures(seed=1))
    assert other.provenance["features"]["weights_sha256"] != features.weights_hash  # another network: recomputed
    assert not torch.equal(other.features, first.features)


def test_a_tiny_row_writes_its_numbers_grid_and_table_line(cifar_folder, tmp_path):
    out = tmp_path / "out"
    result = zoo_cifar.row("dcgan", str(cifar_folder), 0.0, 1.0, 40, 40, str(out), RandomFeatures(), tmp_path / "docs")
    saved = json.loads((out / "dcgan.json").read_text())
    assert saved["kimg"] == result["kimg"] > 0 and saved["nimg"] == 64  # the budget stops it after one batch
    assert np.isfinite([saved["fid"], saved["kid"], saved["kid_std"]]).all()
    assert saved["command"].startswith("python train.py arch=dcgan dataset=cifar10 ")
    assert saved["provenance"]["n_fake"] == 40 and saved["provenance"]["kid"]["subset_size"] == 40
    assert len(saved["curve"]) == 1 and (out / "dcgan.curve.jsonl").exists()
    assert (tmp_path / "docs" / "dcgan.png").exists()
    (out / "resnet.log").write_text("")
    (out / "resnet.curve.jsonl").write_text(json.dumps({"cpu_min": 15.0, "kimg": 50.0, "kid": 0.0123}) + "\n")
    lines = zoo_cifar.table(["dcgan", "resnet", "r3gan"], str(out), 40, 40).splitlines()
    assert "JPEG" in lines[0] and lines[4].startswith("| dcgan |") and "0.00M" not in lines[4]
    assert "| not finished |" in lines[5] and lines[5].endswith("| 15: 12.3 |")
    assert "| not run |" in lines[6]


def test_table_mode_trains_nothing_and_writes_the_rows_it_finds(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "sndcgan.log").write_text("")
    monkeypatch.setattr(zoo_cifar, "run", lambda *a: pytest.fail("--table trained"))
    monkeypatch.setattr(sys, "argv", ["zoo_cifar.py", "--cifar-root", "unused", "--archs", "dcgan,sndcgan",
                                      "--out", str(out), "--table"])
    zoo_cifar.main()
    lines = (out / "zoo_cifar.md").read_text().splitlines()
    assert "| not run |" in lines[4] and "| not finished |" in lines[5]
    assert capsys.readouterr().out.strip() == "\n".join(lines)
