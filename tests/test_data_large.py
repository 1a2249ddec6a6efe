"""LSUN from a tiny LMDB, CelebA(-HQ) folders as distributed, streaming and the memory-mapped image cache."""
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from PIL import Image

from gan_lightning.data import (
    CelebADataModule,
    CelebAHQDataModule,
    InfiniteBatchSampler,
    LSUNDataModule,
    stream,
)
from gan_lightning.data.images import fit_image
from gan_lightning.data.stream import LazyImages
from gan_lightning.errors import ConfigError
from tests.test_data import GREEN, Recorder, striped

lmdb = pytest.importorskip("lmdb")


def photo(seed: int, width: int, height: int) -> Image.Image:
    """Random pixels: every crop and resize shows."""
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8))


def encode(img: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    return buffer.getvalue()


def write_lmdb(path: Path, records: dict[bytes, bytes]) -> Path:
    with lmdb.open(str(path), map_size=1 << 24) as env, env.begin(write=True) as txn:
        for key, value in records.items():
            txn.put(key, value)
    return path


def put_elsewhere(path: Path, key: bytes, value: bytes) -> None:
    """Add a record from another process: this one may hold the LMDB open read-only (LMDB allows one open)."""
    script = ("import lmdb, sys; env = lmdb.open(sys.argv[1]); txn = env.begin(write=True); "
              "txn.put(bytes.fromhex(sys.argv[2]), bytes.fromhex(sys.argv[3])); txn.commit(); env.close()")
    subprocess.run([sys.executable, "-c", script, str(path), key.hex(), value.hex()], check=True)


@pytest.fixture
def bedrooms(tmp_path) -> tuple[Path, list[Image.Image]]:
    """An LSUN-like LMDB of 6 WebP/JPEG images of 24x20 or 20x24 px, keys in sorted order."""
    images = [photo(i, 24, 20) if i % 2 else photo(i, 20, 24) for i in range(6)]
    records = {f"{i:040x}".encode(): encode(img, "WEBP" if i < 4 else "PNG") for i, img in enumerate(images)}
    return write_lmdb(tmp_path / "bedroom_train_lmdb", records), images


def expected(images: list[Image.Image], resolution: int) -> torch.Tensor:
    return torch.from_numpy(np.stack([fit_image(img, resolution, 3) for img in images]))


def test_lsun_streams_center_crops_and_resizes(bedrooms):
    root, images = bedrooms
    dm = LSUNDataModule(root=str(root), resolution=8)
    assert dm.describe() == f"LSUN bedroom_train: 6 images from {root} (stream), 8x8x3"  # loads on first use
    data = dm.data[0]
    assert isinstance(data, LazyImages) and data.shape == (6, 3, 8, 8) and dm.num_classes == 0
    assert torch.equal(data[:], expected(images, 8))
    assert torch.equal(data[torch.tensor([5, 1, 5])], expected([images[5], images[1], images[5]], 8))
    assert LSUNDataModule(root=str(root), resolution=8, max_items=2).num_items == 2
    assert data.nbytes == 6 * 3 * 8 * 8 and torch.equal(data.to("cpu"), expected(images, 8))


@pytest.mark.filterwarnings("ignore:`LightningModule.configure_optimizers` returned `None`")
def test_lsun_stream_resumes_the_data_order_through_the_sampler(bedrooms):
    root, images = bedrooms
    dm = LSUNDataModule(root=str(root), resolution=8, batch_size=4)
    module = Recorder(batches=3)  # a resumed run: 3 D steps done
    trainer = L.Trainer(accelerator="cpu", max_epochs=1, limit_train_batches=2, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, datamodule=dm)
    sampler = InfiniteBatchSampler(6, 4, seed=0)
    for t, x in zip((3, 4), module.seen, strict=True):
        torch.testing.assert_close(x, expected(images, 8)[sampler.batch(t)].float() / 127.5 - 1)


def test_cache_is_built_once_keyed_and_memory_mapped(bedrooms, tmp_path, monkeypatch):
    root, images = bedrooms
    cache = tmp_path / "cache"
    first = LSUNDataModule(root=str(root), resolution=8, storage="cache", cache_dir=str(cache)).data[0]
    assert torch.equal(first, expected(images, 8))
    files = sorted(cache.glob("*.npy"))
    assert len(files) == 1 and files[0].name.startswith("lsun-") and not list(cache.glob(".*tmp"))
    assert isinstance(np.load(files[0], mmap_mode="r"), np.memmap)

    def no_decoding(*args):
        raise AssertionError("decoded again")

    monkeypatch.setattr(stream, "decode_each", no_decoding)  # a second start reads the cache only
    again = LSUNDataModule(root=str(root), resolution=8, storage="cache", cache_dir=str(cache)).data[0]
    assert torch.equal(again, first)
    monkeypatch.undo()
    LSUNDataModule(root=str(root), resolution=16, storage="cache", cache_dir=str(cache)).setup()
    put_elsewhere(root, b"f" * 40, encode(photo(9, 20, 20), "PNG"))  # a changed source
    changed = LSUNDataModule(root=str(root), resolution=8, storage="cache", cache_dir=str(cache)).data[0]
    assert len(changed) == 7 and len(list(cache.glob("*.npy"))) == 3


def test_lsun_bad_paths_and_corrupt_records_are_one_line_config_errors(bedrooms, tmp_path):
    root, _ = bedrooms
    with pytest.raises(ConfigError, match=f"dataset.root='{tmp_path / 'absent'}' is not an LMDB"):
        LSUNDataModule(root=str(tmp_path / "absent")).setup()
    with pytest.raises(ConfigError, match="dataset.storage='disk' is not supported; accepted: stream, cache, memory"):
        LSUNDataModule(root=str(root), storage="disk")
    put_elsewhere(root, b"0" * 39 + b"2", b"not an image")
    dm = LSUNDataModule(root=str(root), resolution=8)
    with pytest.raises(ConfigError, match=f"cannot decode image '{root}:{'0' * 39}2'") as error:
        dm.data[0][:]
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("storage", ["stream", "cache", "memory"])
def test_lsun_skips_a_corrupt_record_serving_the_next_one_in_its_place_with_a_count(bedrooms, tmp_path, storage,
                                                                                      caplog):
    root, images = bedrooms
    put_elsewhere(root, f"{2:040x}".encode(), b"not an image")  # record 2 of 6
    dm = LSUNDataModule(root=str(root), resolution=8, storage=storage, cache_dir=str(tmp_path / "cache"),
                        on_corrupt="skip")
    with caplog.at_level("WARNING"):
        data = dm.data[0]
        served = data[:]
    assert len(data) == 6 and torch.equal(served, expected([images[i] for i in (0, 1, 3, 3, 4, 5)], 8))
    warned = [r.getMessage() for r in caplog.records if "on_corrupt=skip" in r.getMessage()]
    assert warned == [f"dataset.on_corrupt=skip: cannot decode {root}:{2:040x}; the next image that decodes is "
                      "served in its place (1 of 6 images skipped so far)"]
    if storage == "stream":  # a later batch is served from the standin without decoding the record again
        assert torch.equal(data[torch.tensor([2, 0])], expected([images[3], images[0]], 8))
        assert len(warned) == 1


@pytest.mark.parametrize("archive", ["tar", "zip"])
def test_celeba_streamed_from_an_archive_skips_a_truncated_image(celeba, tmp_path, archive):
    import tarfile

    folder = celeba / "img_align_celeba"
    good = encode(photo(1, 178, 218), "PNG")
    (folder / "000004.jpg").write_bytes(good[: len(good) // 2])  # truncated: the last of 4
    path = tmp_path / f"faces.{archive}"
    if archive == "zip":
        with zipfile.ZipFile(path, "w") as zf:
            for p in sorted(folder.iterdir()):
                zf.write(p, f"img_align_celeba/{p.name}")
    else:
        with tarfile.open(path, "w") as tf:
            tf.add(folder, arcname="img_align_celeba")
    with pytest.raises(ConfigError, match=r"cannot decode image '.*000004.jpg' .*or dataset.on_corrupt=skip$"):
        CelebADataModule(root=str(path), resolution=16, storage="stream").data[0][:]
    data = CelebADataModule(root=str(path), resolution=16, storage="stream", on_corrupt="skip").data[0]
    first = CelebADataModule(root=str(celeba), resolution=16, storage="stream", on_corrupt="skip").data[0]
    assert torch.equal(data[:], first[[0, 1, 2, 0]])  # the last wraps around to the first
    assert data.corrupt == {3} and data.standin == {3: 0}
    assert torch.equal(first[:], first[[0, 1, 2, 0]])


def test_a_dataset_none_of_whose_images_decodes_is_a_config_error_with_skip(bedrooms):
    root, _ = bedrooms
    for i in range(6):
        put_elsewhere(root, f"{i:040x}".encode(), b"junk")
    with pytest.raises(ConfigError, match="none of its 6 images can be decoded"):
        LSUNDataModule(root=str(root), resolution=8, on_corrupt="skip").data[0][[4]]


@pytest.fixture
def celeba(tmp_path) -> Path:
    """celeba/{img_align_celeba/00000{1..4}.jpg (178x218, PNG bytes), list_eval_partition.txt}."""
    root = tmp_path / "celeba"
    (root / "img_align_celeba").mkdir(parents=True)
    for i in range(1, 5):
        photo(i, 178, 218).save(root / "img_align_celeba" / f"{i:06d}.jpg", format="PNG")  # lossless for the test
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 0\n000003.jpg 1\n000004.jpg 2\n")
    return root


def test_celeba_face_crop_split_and_zip(celeba, tmp_path):
    dm = CelebADataModule(root=str(celeba), resolution=16)
    img = Image.open(celeba / "img_align_celeba" / "000002.jpg")
    crop = img.crop((35, 55, 35 + 108, 55 + 108))  # the centred 108 px square of 178x218
    assert torch.equal(dm.data[0][1], torch.from_numpy(np.array(fit_image(crop, 16, 3))))
    assert CelebADataModule(root=str(celeba), resolution=16, split="train").num_items == 2
    archive = tmp_path / "img_align_celeba.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted((celeba / "img_align_celeba").iterdir()):
            zf.write(p, f"img_align_celeba/{p.name}")
    assert torch.equal(CelebADataModule(root=str(archive), resolution=16).data[0], dm.data[0])
    with pytest.raises(ConfigError, match="dataset.split='test' needs list_eval_partition.txt"):
        CelebADataModule(root=str(archive), resolution=16, split="test").setup()


def test_celeba_hq_resizes_square_faces_and_caches(tmp_path):
    root = tmp_path / "celeba_hq" / "train" / "female"
    root.mkdir(parents=True)
    for i in range(3):
        striped(64, 64).save(root / f"{i}.png")
    cache = tmp_path / "cache"
    dm = CelebAHQDataModule(root=str(tmp_path / "celeba_hq"), resolution=8, storage="cache", cache_dir=str(cache))
    green = torch.tensor(GREEN, dtype=torch.uint8)[None, :, None, None].expand(3, 3, 8, 8)
    assert torch.equal(dm.data[0], green) and dm.name == "CelebA-HQ"
    assert [p.name.split("-")[0] for p in cache.glob("*.npy")] == ["celeba"]
