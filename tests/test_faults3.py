"""Faults of the issue-23 sweep, third part: a crafted CIFAR-10 batch, two runs into one folder, stale temporary
checkpoints, Ctrl-C, a full disk under the loggers; each ends in one line and runs no stranger's code."""
import os
import pickle

import numpy as np
import pytest

from gan_lightning.data.cifar import CIFAR10DataModule
from gan_lightning.errors import ConfigError
from gan_lightning.run.build import run
from tests.conftest import compose, tiny

# --- a CIFAR-10 batch file is data, never code ------------------------------------------------------------


def write_batches(folder, first: bytes | None = None, protocol: int | None = None, py2_names: bool = False):
    """cifar-10-batches-py/ with 2 images per batch; `first` replaces data_batch_1's bytes. With `py2_names` the
    numpy globals are spelled numpy.core.multiarray, as in the real files (pickled by Python 2's numpy)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(1, 6):
        batch = {b"batch_label": b"training batch", b"labels": [i, 9 - i], b"filenames": [b"a.png", b"b.png"],
                 b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8)}
        data = pickle.dumps(batch, protocol=protocol)
        if py2_names:
            assert b"numpy._core.multiarray\n" in data  # protocol 2 names globals as text lines
            data = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
        (folder / f"data_batch_{i}").write_bytes(first if i == 1 and first is not None else data)
    return folder


@pytest.mark.parametrize("protocol,py2_names", [(2, False), (2, True), (None, False), (5, False)])
def test_a_real_format_cifar_batch_still_loads(tmp_path, protocol, py2_names):
    folder = write_batches(tmp_path / "cifar-10-batches-py", protocol=protocol, py2_names=py2_names)
    images, labels = CIFAR10DataModule(root=str(tmp_path)).data
    assert images.shape == (10, 3, 32, 32) and labels.tolist() == [v for i in range(1, 6) for v in (i, 9 - i)]
    assert folder.is_dir()


def test_a_crafted_cifar_batch_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    write_batches(tmp_path / "cifar-10-batches-py", first=pickle.dumps({b"data": Payload(), b"labels": [0]}))
    with pytest.raises(ConfigError) as refused:
        CIFAR10DataModule(root=str(tmp_path)).data
    assert not marker.exists()
    assert str(refused.value) == (
        f"dataset.root='{tmp_path / 'cifar-10-batches-py'}': batch data_batch_1 is not a CIFAR-10 python batch "
        f"(refused: loading it would run code (posix.system)); accepted: cifar-10-python.tar.gz, "
        "cifar-10-batches-py/, <split>/<class>/*.png|jpg, or a .tar.gz/.zip of that image folder")
    with pytest.raises(SystemExit) as stop:  # what train.py prints: the same line
        run(compose(tiny("mlp", "dataset=cifar10", f"dataset.root={tmp_path}", "metrics=none"), tmp_path / "run"))
    assert str(stop.value) == f"error: {refused.value}" and not marker.exists()


@pytest.mark.parametrize("content,reason", [
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]})[:50], "pickle data was truncated"),
    (pickle.dumps([1, 2, 3]), "needs a dict with b'data' and b'labels'; found list"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}), "needs a dict with b'data' and b'labels'; found [\"b'data'\"]"),
    (pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}), "b'data' must be uint8 rows of 3072"),
    (pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}), "2 images and 1 labels"),
    (b"not a pickle at all", "not a CIFAR-10 python batch ("),
], ids=["truncated", "a list", "no labels", "short rows", "fewer labels", "not a pickle"])
def test_a_malformed_cifar_batch_is_one_line(tmp_path, content, reason):
    write_batches(tmp_path / "cifar-10-batches-py", first=content)
    with pytest.raises(ConfigError) as refused:
        CIFAR10DataModule(root=str(tmp_path)).data
    message = str(refused.value)
    assert reason in message and "batch data_batch_1" in message and "\n" not in message, message
