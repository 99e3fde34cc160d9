"""Fetch full MNIST for users who are online: SHA-256 checked, written atomically."""
from __future__ import annotations

import hashlib
from functools import partial
import urllib.request
from pathlib import Path

from lossviz.data import write_atomically

MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
           "https://storage.googleapis.com/cvdf-datasets/mnist/")


class DownloadError(ValueError):
    pass


def _write_all(out, data: bytes) -> None:
    out.write(data)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch_checked(url: str, digest: str, timeout: float) -> bytes:
    with urllib.request.urlopen(url, timeout=timeout) as reply:
        data = reply.read()
    if _sha256(data) != digest:
        raise DownloadError(f"{url}: SHA-256 {_sha256(data)[:12]}… does not match the "
                            f"expected {digest[:12]}…; nothing was written")
    return data


def download_mnist(folder: Path, base_url: str | None = None, files: dict = MNIST_SHA256,
                   log=print, timeout: float = 60.0) -> None:
    """Each file from the first mirror that serves it with the right checksum. A file already
    there with the right checksum is kept; a bad one is never written."""
    folder = Path(folder)
    mirrors = [base_url.rstrip("/") + "/"] if base_url else list(MIRRORS)
    for name, digest in files.items():
        target = folder / name
        if target.exists() and _sha256(target.read_bytes()) == digest:
            log(f"{target}: already there")
            continue
        errors = []
        for mirror in mirrors:
            try:
                data = _fetch_checked(mirror + name, digest, timeout)
            except (OSError, DownloadError) as err:
                errors.append(f"{mirror}{name}: {err}" if not isinstance(err, DownloadError) else str(err))
                continue
            write_atomically(target, partial(_write_all, data=data))
            log(f"{target}: {len(data):,} bytes, checksum ok")
            break
        else:
            raise DownloadError("; ".join(errors))
