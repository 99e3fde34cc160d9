import gzip
import hashlib
import http.server
import threading
from functools import partial

import numpy as np
import pytest

from lossviz.cli import main as cli_main
from lossviz.data import (DataError, load_bundled, load_bundled_noted, load_idx_folder,
                          load_source, read_idx, stratified_split, visitor_folder)
from lossviz.download import DownloadError, download_mnist
from tests.idx import idx_bytes, write_idx_folder


@pytest.mark.parametrize("gz", [True, False])
def test_idx_folder_round_trip(tmp_path, gz):
    arrays = write_idx_folder(tmp_path, gz=gz)
    dataset = load_idx_folder(tmp_path, "fixture")
    np.testing.assert_array_equal(dataset.train_images, arrays["train_images"])
    np.testing.assert_array_equal(dataset.test_labels, arrays["test_labels"])
    assert dataset.train_labels.dtype == np.int64 and not dataset.train_images.flags.writeable


@pytest.mark.parametrize("damage,message", [
    (lambda b: b[:-7], "bytes, but its header"),
    (lambda b: b"\x01\x02" + b[2:], "bad magic"),
    (lambda b: b[:2] + b"\x0d" + b[3:], "not unsigned bytes"),
    (lambda b: b[:6], "header is truncated"),
])
def test_corrupt_or_truncated_files_are_named(tmp_path, damage, message):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(damage(idx_bytes(np.zeros((3, 28, 28)))))
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_broken_gzip_is_reported(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((3, 28, 28))))[:-10])
    with pytest.raises(DataError, match="cannot read it"):
        read_idx(path)


def test_mismatched_labels_are_refused(tmp_path):
    write_idx_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(5))))
    with pytest.raises(DataError, match="labels for 20 images"):
        load_idx_folder(tmp_path, "fixture")


def test_bad_folder_falls_back_to_the_bundled_digits(tmp_path):
    dataset, (warning,) = load_source("mnist", tmp_path)
    assert "not found" in str(warning) and "bundled" in str(warning)
    assert "内置" in warning.render("zh")
    assert dataset.train_images.shape == (4000, 28, 28)


@pytest.mark.parametrize("blocked", ["a-file", "a-file/cache"])
def test_a_cache_folder_that_cannot_be_written_keeps_the_digits_in_memory(
        tmp_path, monkeypatch, blocked):
    (tmp_path / "a-file").write_text("a file where the cache folder should be")
    dataset, note = load_bundled_noted(tmp_path / blocked)
    assert dataset.train_images.shape == (4000, 28, 28)
    assert "kept in memory" in str(note) and str(tmp_path) not in str(note)
    monkeypatch.setenv("LOSSVIZ_CACHE", str(tmp_path / blocked))
    dataset, warnings = load_source("bundled")
    assert len(dataset.test_labels) == 1000 and "kept in memory" in str(warnings[0])


def test_bundled_split_is_stratified_and_cached(tmp_path):
    first = load_bundled(tmp_path)
    assert np.bincount(first.test_labels).tolist() == [100] * 10
    assert np.bincount(first.train_labels).tolist() == [400] * 10
    cached = list(tmp_path.glob("*.npz"))
    assert len(cached) == 1
    again = load_bundled(tmp_path)
    np.testing.assert_array_equal(first.train_images, again.train_images)
    cached[0].write_bytes(b"garbage")  # a damaged cache is rebuilt, not trusted
    np.testing.assert_array_equal(load_bundled(tmp_path).test_labels, first.test_labels)


def test_split_indices_are_disjoint_and_seeded():
    labels = np.repeat(np.arange(3), 10)
    train, test = stratified_split(labels, 2, seed=1)
    assert len(set(train) & set(test)) == 0 and len(train) + len(test) == 30
    assert np.array_equal(stratified_split(labels, 2, seed=1)[1], test)


@pytest.fixture
def local_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_checks_sha256_and_writes_atomically(local_server, tmp_path):
    served, url = local_server
    payload = gzip.compress(idx_bytes(np.ones((2, 28, 28))))
    (served / "a.gz").write_bytes(payload)
    target = tmp_path / "out"
    download_mnist(target, url, {"a.gz": hashlib.sha256(payload).hexdigest()}, log=lambda _: None)
    assert (target / "a.gz").read_bytes() == payload
    assert [p.name for p in target.iterdir()] == ["a.gz"]  # no temporary file left behind


def test_download_with_a_bad_checksum_writes_nothing(local_server, tmp_path):
    served, url = local_server
    (served / "a.gz").write_bytes(b"not what was promised")
    with pytest.raises(DownloadError, match="does not match"):
        download_mnist(tmp_path / "out", url, {"a.gz": "0" * 64}, log=lambda _: None)
    assert not (tmp_path / "out" / "a.gz").exists()


def test_download_command_fails_cleanly(local_server, tmp_path, capsys):
    served, url = local_server
    for name in ("train-images-idx3-ubyte.gz",):
        (served / name).write_bytes(b"fixture, not MNIST")
    assert cli_main(["download-mnist", "--dir", str(tmp_path / "d"), "--base-url", url]) == 2
    assert "does not match" in capsys.readouterr().err


@pytest.fixture
def offered(tmp_path, monkeypatch):
    """An operator who offers tmp/data (LOSSVIZ_DATA) and tmp/more (LOSSVIZ_DATA_FOLDERS)."""
    for name in ("data", "data/sub", "more", "private"):
        (tmp_path / name).mkdir()
    monkeypatch.setenv("LOSSVIZ_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("LOSSVIZ_DATA_FOLDERS", str(tmp_path / "more"))
    return tmp_path


def test_a_visitor_may_name_the_offered_folders_and_their_subfolders(offered):
    assert visitor_folder(str(offered / "data")) == offered / "data"
    assert visitor_folder(f"  {offered / 'data' / 'sub'}  ") == offered / "data" / "sub"
    assert visitor_folder(str(offered / "more")) == offered / "more"
    assert visitor_folder("") is None and visitor_folder(None) is None  # the default


def test_every_other_path_gets_one_message_that_reveals_nothing(offered):
    (offered / "private" / "secret").write_text("x")
    (offered / "data" / "link").symlink_to(offered / "private")
    refused = ["/etc", "/nonexistent/folder", str(offered / "private"),
               str(offered / "private" / "secret"), f"{offered / 'data'}/../private",
               str(offered / "data" / "link"), "data", "../../etc", "/etc\0", "/" + "a" * 5000]
    messages = set()
    for path in refused:
        with pytest.raises(DataError) as info:
            visitor_folder(path)
        messages.add(str(info.value))
    assert len(messages) == 1
    (message,) = messages
    assert str(offered) not in message and "not found" not in message
