"""bench/zoo.py (issue 24): every row of the zoo composes, and the table says met / not met as the target does."""
import json
import sys
from pathlib import Path

import pytest

from gan_lightning.run.config import compose

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
zoo = pytest.importorskip("zoo")


@pytest.mark.parametrize("arch", list(zoo.ROWS))
def test_every_zoo_row_composes_for_its_family(arch, tmp_path):
    cfg = compose([*zoo.ROWS[arch]["overrides"], *zoo.BUDGET], tmp_path)
    module = {"resnet19": "resnet"}.get(arch, arch)  # ResNet19 is the SNGAN net at other widths
    assert cfg.arch.generator._target_ == f"gan_lightning.nets.{module}.Generator"
    assert cfg.dataset._target_.endswith("MNISTDataModule") and not any("dataset.root" in o for o in
                                                                         zoo.ROWS[arch]["overrides"])
    assert not cfg.metrics.list  # the budget goes to training; the curve is measured by the bench

def test_table_marks_the_target(tmp_path):
    row = {"setting": "s", "width": "w", "g_params": 1e5, "d_params": 2e5, "cpu_s": 900.0, "kimg": 90.0,
           "classes": 10.0, "max_share": 0.12, "curve": [{"cpu_min": 3.0, "fid_mnist": 2.0}]}
    (tmp_path / "dcgan.json").write_text(json.dumps({**row, "fid_mnist": 0.8}))
    (tmp_path / "resnet.json").write_text(json.dumps({**row, "fid_mnist": 0.9}))
    (tmp_path / "sagan.log").write_text("curve {'cpu_min': 3.0, 'kimg': 1.0, 'fid_mnist': 40.0, 'classes': 2.0}\n")
    lines = zoo.table(["dcgan", "resnet", "sagan", "began"], 0.29, str(tmp_path)).splitlines()
    assert "| met |" in lines[4] and "| not met |" in lines[5] and "not run" in lines[7]
    assert "| not finished |" in lines[6] and lines[6].endswith("| 3: 40.00 |")
    assert lines[4].endswith("| 3: 2.00 |")
