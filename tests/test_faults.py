"""Faults as they happen to a run: a kill or a full disk while saving, an unwritable output folder, a checkpoint
of another arch or a stranger's pickle, corrupt images; each keeps the previous checkpoint or fails in one line."""
import errno
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from gan_lightning.errors import ConfigError
from gan_lightning.run.build import run
from gan_lightning.run.cli import unknown_key
from gan_lightning.training.checkpoint_io import load_module, read_checkpoint
from tests.conftest import REPO, compose, tiny

TOY = tiny("mlp", "dataset=ring", "metrics=none", "total_kimg=0.016")  # 2 batches of 8 points, last.ckpt at the end


def first_run(tmp_path):
    """A finished toy run; returns its last.ckpt and the checkpoint's bytes."""
    run(compose(TOY, tmp_path / "run"))
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    return ckpt, ckpt.read_bytes()


KILLED_SAVE = """
import os, signal, sys
import lightning.fabric.plugins.io.torch_io as torch_io
from gan_lightning.run.build import run
from tests.conftest import compose, tiny

def write_half_then_die(checkpoint, filepath):
    with open(filepath, "wb") as file:
        file.write(b"PK" + b"x" * 1000)  # the start of a zip, never finished
        file.flush()
    os.kill(os.getpid(), signal.SIGKILL)

torch_io._atomic_save = write_half_then_die
run(compose(sys.argv[2:], sys.argv[1]))
"""


def test_a_process_killed_while_saving_leaves_the_previous_last_ckpt_loadable(tmp_path):
    ckpt, before = first_run(tmp_path)
    args = [f"ckpt_path={ckpt}", "total_kimg=0.032"]
    killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(tmp_path / "run"), *args], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert ckpt.read_bytes() == before
    assert read_checkpoint(ckpt)["clock"] == {"nimg": 16, "batches": 2}
    # the half-written temporary file beside it is ignored when looking for the newest checkpoint
    leftovers = [p.name for p in ckpt.parent.iterdir() if p.name != "last.ckpt"]
    assert all(name.startswith(".last.ckpt.") and name.endswith(".tmp") for name in leftovers), leftovers
    from gan_lightning.run.checkpoint import newest_checkpoint

    assert newest_checkpoint(ckpt.parent) == ckpt


def test_a_full_disk_mid_run_keeps_the_previous_checkpoint_and_ends_in_one_line(tmp_path, monkeypatch):
    import lightning.fabric.plugins.io.torch_io as torch_io

    ckpt, before = first_run(tmp_path)

    def disk_full(checkpoint, filepath):
        with open(filepath, "wb") as file:
            file.write(b"PK" + b"x" * 100)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch_io, "_atomic_save", disk_full)
    with pytest.raises(SystemExit) as stop:
        run(compose([*TOY, f"ckpt_path={ckpt}", "total_kimg=0.032"], tmp_path / "run"))
    assert "cannot write last.ckpt (No space left on device); the previous last.ckpt is kept" in str(stop.value)
    assert ckpt.read_bytes() == before and sorted(p.name for p in ckpt.parent.iterdir()) == ["last.ckpt"]


def test_an_unwritable_or_full_output_folder_fails_before_training(tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    message = unknown_key([*TOY, f"hydra.run.dir={blocker}/run"], check_run_dir=True)  # what train.py checks first
    assert message == (f"hydra.run.dir='{blocker}/run' cannot be written ({blocker} is a file); accepted: a folder "
                       "this user can write, e.g. hydra.run.dir=outputs/runs/<name>")
    with pytest.raises(SystemExit, match="callbacks.checkpoint.dirpath=.* cannot be written"):
        run(compose(TOY, blocker / "run"))
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(SystemExit, match=r"has 0 MiB free; accepted: a folder with at least 0 MiB free"):
        run(compose(TOY, tmp_path / "full"))
    assert not list((tmp_path / "full").rglob("*.ckpt"))


def test_a_checkpoint_of_another_arch_or_resolution_fails_in_one_line_naming_both(tmp_path):
    ckpt, _ = first_run(tmp_path)
    refused = pytest.raises(SystemExit, match=r"refused: .*\(dataset.resolution: 1 -> 2\)")
    with refused:  # typed: the stored config and the typed one are named
        run(compose([*TOY, f"ckpt_path={ckpt}", "dataset.resolution=2"], tmp_path / "run"))
    checkpoint = torch.load(ckpt, weights_only=True)  # a file whose weights are not those of its own config
    checkpoint["config"]["arch"]["generator"]["hidden_sizes"] = [64, 32]
    torch.save(checkpoint, ckpt)
    message = ("holds weights of another arch or resolution than mlp at 1px (generator.net.0.weight is [32, 16] in "
               "the file and [64, 16] in mlp at 1px)")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")):
        load_module(ckpt)
    with pytest.raises(SystemExit, match="ckpt_path=.* holds weights of another arch"):
        run(compose([f"ckpt_path={ckpt}", "total_kimg=0.032"], tmp_path / "run"))


def test_a_checkpoint_carrying_a_malicious_pickle_is_refused_without_running_it(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "payload": Payload()}, evil)
    with pytest.raises(SystemExit) as stop:
        run(compose([*TOY, f"ckpt_path={evil}"], tmp_path / "run"))
    assert "refused: loading it would run code (posix.system)" in str(stop.value)
    assert not (tmp_path / "pwned").exists()


def image_folder(root, corrupt: bool = True):
    """Four 8x8 PNGs in two class folders; with `corrupt`, one is truncated and one is text named .jpg."""
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (60 * i, 100, 0)).save(root / label / f"{i}.png")
    if corrupt:
        whole = (root / "a" / "1.png").read_bytes()
        (root / "a" / "1.png").write_bytes(whole[: len(whole) // 2])
        (root / "b" / "notes.jpg").write_text("not an image")
    return root


@pytest.mark.parametrize("on_corrupt", ["error", "skip"])
def test_a_folder_with_corrupt_files_is_an_error_or_skips_them_with_names(on_corrupt, tmp_path, caplog):
    from gan_lightning.data.folder import FolderDataModule

    root = image_folder(tmp_path / "images")
    data = FolderDataModule(str(root), resolution=8, labels_from_subfolders=True, on_corrupt=on_corrupt)
    if on_corrupt == "error":
        with pytest.raises(ConfigError, match=r"cannot decode image '.*a/1.png' .*accepted: readable .* or "
                                              r"dataset.on_corrupt=skip"):
            data.setup()
        return
    with caplog.at_level("INFO"):
        images, labels = data.data
    assert images.shape == (3, 3, 8, 8) and labels.tolist() == [0, 1, 1]  # a/0, b/0, b/1
    warning = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warning) == 1 and warning[0].startswith("dataset.on_corrupt=skip: skipped 2 of 5 images")
    assert f"{root}/a/1.png" in warning[0] and f"{root}/b/notes.jpg" in warning[0]
