"""Image files from a folder, a .zip or a .tar[.gz]: list them, pick some, decode them into one uint8 tensor."""

import io
import logging
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image

from gan_lightning.data.images import fit_image
from gan_lightning.errors import ConfigError, check_choice

log = logging.getLogger(__name__)
record = logging.getLogger("gan_lightning.record")  # train.log only

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")
LOG_EVERY = 10_000
ON_CORRUPT = ("error", "skip")
SHOWN_SKIPPED = 10  # names in the warning line; train.log gets every one


def is_archive(path: Path) -> bool:
    """True for a .zip or .tar[.gz] file."""
    return path.is_file() and (path.suffix.lower() == ".zip" or path.name.lower().endswith(TAR_SUFFIXES))


def is_image_name(name: str) -> bool:
    """True for an image file name that is not hidden or macOS metadata."""
    parts = PurePosixPath(name).parts
    hidden = any(p.startswith(".") or p == "__MACOSX" for p in parts)
    return not hidden and name.lower().endswith(IMAGE_EXTENSIONS)


Member = str | zipfile.ZipInfo | tarfile.TarInfo  # a path relative to a folder, or an archive member


def member_name(member: Member) -> str:
    """The '/'-separated path of a file inside its folder or archive."""
    if isinstance(member, str):
        return member
    return member.filename if isinstance(member, zipfile.ZipInfo) else member.name


def member_offset(member: Member) -> int:
    """Where a member's bytes start, so that reads go forwards through an archive."""
    return member.header_offset if isinstance(member, zipfile.ZipInfo) else member.offset_data


class ImageFiles:
    """The image files under a folder or inside an archive, named by '/'-separated paths relative to it."""

    def __init__(self, path: Path, key: str = "dataset.root", on_corrupt: str = "error") -> None:
        check_choice("dataset.on_corrupt", on_corrupt, ON_CORRUPT)
        self.path = path
        self.key = key
        self.on_corrupt = on_corrupt  # what decode_images does with a file PIL cannot read
        self.skipped: list[str] = []  # names decode_images skipped (on_corrupt=skip)
        if path.is_dir():
            found = (p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
            members: list[Member] = [n for n in found if is_image_name(n)]
            names = members
        elif is_archive(path):
            members = [m for m in self._archive_members() if is_image_name(member_name(m))]
            names = strip_common_folder([member_name(m) for m in members])
        else:
            raise ConfigError(
                f"{key}={str(path)!r} does not exist or is not a folder or archive; "
                "accepted: a folder, .zip, .tar or .tar.gz of images"
            )
        self.stored: dict[str, Member] = dict(sorted(zip(names, members), key=lambda pair: pair[0]))

    @property
    def names(self) -> list[str]:
        """Every image, sorted."""
        return list(self.stored)

    def _archive_members(self) -> list[zipfile.ZipInfo] | list[tarfile.TarInfo]:
        try:
            if self.path.suffix.lower() == ".zip":
                with zipfile.ZipFile(self.path) as zf:
                    return [i for i in zf.infolist() if not i.is_dir()]
            with tarfile.open(self.path) as tf:  # one pass over a .tar.gz: keep the members for read()
                return [m for m in tf.getmembers() if m.isfile()]
        except (zipfile.BadZipFile, tarfile.TarError, OSError) as error:
            raise ConfigError(
                f"{self.key}={str(self.path)!r} cannot be opened ({error}); accepted: a valid .zip, .tar or .tar.gz"
            ) from error

    def within(self, folder: str) -> "ImageFiles":
        """The images under `folder`, renamed relative to it."""
        view = object.__new__(ImageFiles)
        view.path, view.key, view.on_corrupt, view.skipped = self.path, self.key, self.on_corrupt, []
        prefix = folder.strip("/") + "/"
        view.stored = {n[len(prefix) :]: m for n, m in self.stored.items() if n.startswith(prefix)}
        return view

    def read(self, names: list[str]) -> Iterator[tuple[str, bytes]]:
        """Yield (name, bytes) for `names`, in storage order (a .tar.gz can only be read forwards cheaply)."""
        if self.path.is_dir():
            for name in names:
                yield name, (self.path / self.stored[name]).read_bytes()
            return
        in_order = sorted(names, key=lambda n: member_offset(self.stored[n]))
        if self.path.suffix.lower() == ".zip":
            with zipfile.ZipFile(self.path) as zf:
                for name in in_order:
                    yield name, zf.read(self.stored[name])
        else:
            with tarfile.open(self.path) as tf:
                for name in in_order:
                    yield name, tf.extractfile(self.stored[name]).read()

    def where(self, name: str) -> str:
        """A path a user can find: the file, or archive:member."""
        stored = member_name(self.stored[name])
        return str(self.path / stored) if self.path.is_dir() else f"{self.path}:{stored}"


def strip_common_folder(names: list[str]) -> list[str]:
    """Drop one top folder shared by every name (archives usually wrap their content in one)."""
    tops = {PurePosixPath(n).parts[0] for n in names}
    if len(tops) == 1 and all(len(PurePosixPath(n).parts) > 1 for n in names):
        return [PurePosixPath(*PurePosixPath(n).parts[1:]).as_posix() for n in names]
    return names


def decode_each(
    files: ImageFiles,
    names: list[str],
    fit: Callable[[Image.Image], np.ndarray],
) -> list[np.ndarray | None]:
    """Decode `names` and apply `fit` to each, in the order of `names`.

    A file PIL cannot read (truncated, foreign bytes) is an error, or with `files.on_corrupt == "skip"` is
    None: its name goes to `files.skipped`.
    """
    position = {name: i for i, name in enumerate(names)}
    arrays: list[np.ndarray | None] = [None] * len(names)
    # said for whole datasets, not for each batch a streaming dataset decodes
    log.log(logging.INFO if len(names) >= LOG_EVERY // 10 else logging.DEBUG, "decoding %d images from %s",
            len(names), files.path)
    for count, (name, data) in enumerate(files.read(names), start=1):
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()  # decode now: a truncated file fails here, not half-way through fit
                arrays[position[name]] = fit(img)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:  # PIL's errors for bad bytes
            if files.on_corrupt != "skip":
                raise ConfigError(
                    f"{files.key}={str(files.path)!r}: cannot decode image {files.where(name)!r} ({error}); "
                    f"accepted: readable {'/'.join(IMAGE_EXTENSIONS)} files, or dataset.on_corrupt=skip"
                ) from error
            files.skipped.append(name)
            log.debug("skipping %s: %s", files.where(name), error)
        if count % LOG_EVERY == 0:
            log.info("decoded %d/%d images", count, len(names))
    return arrays


def decode_images(
    files: ImageFiles,
    names: list[str],
    fit: Callable[[Image.Image], np.ndarray],
) -> torch.Tensor:
    """Decode `names` and apply `fit` to each; returns uint8 [N, C, H, W] in the order of `names`.

    A file PIL cannot read is an error, or with `files.on_corrupt == "skip"` is left out: its name goes to
    `files.skipped` and the count and names to the log.
    """
    kept = [array for array in decode_each(files, names, fit) if array is not None]
    if files.skipped:
        skipped = [files.where(n) for n in sorted(files.skipped)]
        more = f" and {len(skipped) - SHOWN_SKIPPED} more (all in train.log)" if len(skipped) > SHOWN_SKIPPED else ""
        log.warning("dataset.on_corrupt=skip: skipped %d of %d images that cannot be decoded: %s%s",
                    len(skipped), len(names), ", ".join(skipped[:SHOWN_SKIPPED]), more)
        record.info("skipped images: %s", ", ".join(skipped))
    if not kept:
        raise ConfigError(f"{files.key}={str(files.path)!r}: none of its {len(names)} images can be decoded; "
                          f"accepted: readable {'/'.join(IMAGE_EXTENSIONS)} files")
    return torch.from_numpy(np.stack(kept))


def read_image_folder(
    files: ImageFiles,
    resolution: int,
    channels: int,
    labels_from_subfolders: bool,
    resample: int = Image.Resampling.LANCZOS,
) -> tuple[torch.Tensor, torch.Tensor | None, list[str]]:
    """Every image in `files`: uint8 [N, C, H, W], labels from first-level folders (or None), class names."""
    names = files.names
    if not names:
        raise ConfigError(
            f"{files.key}={str(files.path)!r} contains no images (accepted extensions: {', '.join(IMAGE_EXTENSIONS)})"
        )
    labels, classes = None, []
    if labels_from_subfolders:
        loose = [n for n in names if "/" not in n]
        if loose:
            raise ConfigError(
                f"{files.key}={str(files.path)!r} has image {loose[0]!r} outside any sub-folder; "
                "accepted with labels_from_subfolders=true: <root>/<class>/<image>"
            )
        folders = [n.split("/", 1)[0] for n in names]
        classes = sorted(set(folders))
        index = {c: i for i, c in enumerate(classes)}
        labels = torch.tensor([index[f] for f in folders], dtype=torch.int64)
    images = decode_images(files, names, lambda img: fit_image(img, resolution, channels, resample))
    if files.skipped and labels is not None:  # the labels of the images decoded
        skipped = set(files.skipped)
        labels = labels[torch.tensor([name not in skipped for name in names])]
    return images, labels, classes
