"""The asset helper: bundled copies, and real downloads from a local HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from pathlib import Path

import pytest

GOOD = b"hello, penn treebank\n" * 100
SLOW_DELAY_S = 3.0


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/good.txt":
            body = GOOD
        elif self.path == "/corrupt.txt":
            body = GOOD[:-5] + b"XXXXX"
        elif self.path == "/slow.txt":
            time.sleep(SLOW_DELAY_S)
            body = GOOD
        else:
            self.send_error(404, "not here")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


SHA_GOOD = hashlib.sha256(GOOD).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_good_download_is_verified_and_moved_into_place(nb, server, tmp_path):
    dest = tmp_path / "sub" / "file.txt"
    assert nb.download_verified(f"{server}/good.txt", dest, sha256=SHA_GOOD, timeout=5) == dest
    assert dest.read_bytes() == GOOD
    assert leftovers(dest.parent) == ["file.txt"]  # no temporary file left


@pytest.mark.parametrize("path", ["/corrupt.txt", "/missing.txt", "/slow.txt"])
def test_failed_download_leaves_nothing_and_names_url_and_destination(nb, server, tmp_path, path):
    dest = tmp_path / "file.txt"
    start = time.perf_counter()
    with pytest.raises(nb.AssetUnavailableError) as info:
        nb.download_verified(f"{server}{path}", dest, sha256=SHA_GOOD, timeout=0.5)
    message = str(info.value)
    assert f"{server}{path}" in message and str(dest) in message
    assert leftovers(tmp_path) == []
    assert time.perf_counter() - start < SLOW_DELAY_S  # the timeout fired, we did not wait for the server


def test_structure_check_rejects_a_download(nb, server, tmp_path):
    def must_mention_penn(path: Path) -> None:
        if b"penn" not in path.read_bytes():
            raise ValueError("no penn")

    dest = tmp_path / "x.txt"
    nb.download_verified(f"{server}/good.txt", dest, check=must_mention_penn, timeout=5)
    assert dest.exists()

    def always_bad(path: Path) -> None:
        raise ValueError("structure is wrong")

    with pytest.raises(nb.AssetUnavailableError, match="structure is wrong"):
        nb.download_verified(f"{server}/good.txt", tmp_path / "y.txt", check=always_bad, timeout=5)
    assert not (tmp_path / "y.txt").exists()


def test_asset_path_downloads_a_missing_asset_then_reuses_it(nb, server, tmp_path, monkeypatch):
    monkeypatch.setitem(nb.ASSETS, "data/test.txt", nb.Asset(f"{server}/good.txt", SHA_GOOD))
    path = nb.asset_path("data/test.txt", root=tmp_path, timeout=5)
    assert path == tmp_path / "data" / "test.txt" and path.read_bytes() == GOOD
    monkeypatch.setitem(nb.ASSETS, "data/test.txt", nb.Asset(f"{server}/missing.txt", SHA_GOOD))
    assert nb.asset_path("data/test.txt", root=tmp_path, timeout=5) == path  # present: no network


def test_asset_path_refuses_a_damaged_bundled_copy_without_touching_it(nb, tmp_path, monkeypatch):
    monkeypatch.setitem(nb.ASSETS, "data/test.txt", nb.Asset("http://127.0.0.1:9/never", SHA_GOOD))
    damaged = tmp_path / "data" / "test.txt"
    damaged.parent.mkdir()
    damaged.write_bytes(b"not it")
    with pytest.raises(nb.AssetUnavailableError, match="damaged"):
        nb.asset_path("data/test.txt", root=tmp_path)
    assert damaged.read_bytes() == b"not it"


def test_unknown_asset_is_a_key_error(nb):
    with pytest.raises(KeyError, match="Unknown asset"):
        nb.asset_path("images/no_such.jpg")


def test_every_bundled_asset_is_present_and_intact(nb):
    for relpath in nb.ASSETS:
        assert nb.asset_path(relpath).is_file()


def test_bundled_images_match_their_sources_table(nb):
    table = (nb.PROJECT_ROOT / "images" / "SOURCES.md").read_text()
    for name, (index, sha) in nb.SAMPLE_IMAGES.items():
        assert f"| {name} | {index} | {sha} |" in table


def test_notebook_opened_alone_fetches_and_checks_every_asset(nb, tmp_path, monkeypatch):
    """As in Colab: no bundled files next to the notebook; every asset comes from its (here: local) URL."""
    import functools

    from conftest import REPO

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(REPO))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        for relpath, asset in list(nb.ASSETS.items()):
            monkeypatch.setitem(nb.ASSETS, relpath, nb.Asset(f"{base}/{relpath}", asset.sha256, asset.check))
        for relpath in nb.ASSETS:
            path = nb.asset_path(relpath, root=tmp_path, timeout=10)
            assert path == tmp_path / relpath and path.read_bytes() == (REPO / relpath).read_bytes()
        labels = nb.load_imagenet_labels(tmp_path / nb.LABELS_FILE)
        assert len(labels) == 1000
    finally:
        httpd.shutdown()
        httpd.server_close()
