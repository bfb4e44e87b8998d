"""The project's files: bundled copies checked, missing ones downloaded (from a local server) and checked."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading

import pytest
from conftest import REPO

GOOD = b"hello, penn treebank\n" * 100
SHA_GOOD = hashlib.sha256(GOOD).hexdigest()[:16]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = {"/good.txt": GOOD, "/corrupt.txt": GOOD[:-5] + b"XXXXX"}.get(self.path)
        if body is None:
            self.send_error(404, "not here")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def serve(handler) -> tuple[http.server.ThreadingHTTPServer, str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


@pytest.fixture(scope="module")
def server():
    httpd, base = serve(_Handler)
    yield base
    httpd.shutdown()
    httpd.server_close()


def test_a_missing_file_is_downloaded_checked_and_then_reused(nb, server, tmp_path, monkeypatch):
    monkeypatch.setitem(nb.ASSETS, "data/x.txt", (f"{server}/good.txt", SHA_GOOD))
    path = nb.asset_path("data/x.txt", root=tmp_path)
    assert path == tmp_path / "data" / "x.txt" and path.read_bytes() == GOOD
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.txt"]  # no temporary file left
    monkeypatch.setitem(nb.ASSETS, "data/x.txt", (f"{server}/missing.txt", SHA_GOOD))
    assert nb.asset_path("data/x.txt", root=tmp_path) == path  # present and intact: no network


@pytest.mark.parametrize("name", ["corrupt.txt", "missing.txt"])
def test_a_failed_download_leaves_nothing_and_names_the_address_and_the_destination(nb, server, tmp_path,
                                                                                     monkeypatch, name):
    monkeypatch.setitem(nb.ASSETS, "data/x.txt", (f"{server}/{name}", SHA_GOOD))
    with pytest.raises(nb.AssetUnavailableError) as info:
        nb.asset_path("data/x.txt", root=tmp_path)
    assert f"{server}/{name}" in str(info.value) and str(tmp_path / "data" / "x.txt") in str(info.value)
    assert list((tmp_path / "data").iterdir()) == []


def test_a_damaged_bundled_copy_is_refused_and_left_untouched(nb, tmp_path, monkeypatch):
    monkeypatch.setitem(nb.ASSETS, "data/x.txt", ("http://127.0.0.1:9/never", SHA_GOOD))
    damaged = tmp_path / "data" / "x.txt"
    damaged.parent.mkdir()
    damaged.write_bytes(b"not it")
    with pytest.raises(nb.AssetUnavailableError, match="damaged"):
        nb.asset_path("data/x.txt", root=tmp_path)
    assert damaged.read_bytes() == b"not it"


def test_every_bundled_file_is_present_intact_and_listed_in_its_source_note(nb):
    for relpath in nb.ASSETS:
        assert nb.asset_path(relpath).is_file()
    table = (REPO / "images" / "SOURCES.md").read_text()
    for name, (index, sha) in nb.SAMPLE_IMAGES.items():
        assert f"| {name} | {index} | {sha}" in table


def test_the_notebook_opened_alone_fetches_and_checks_every_file(nb, tmp_path, monkeypatch):
    """As in Colab: nothing bundled next to the notebook; every file comes from its (here: local) address."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(REPO))
    handler.log_message = lambda *args: None
    httpd, base = serve(handler)
    try:
        for relpath, (_, sha) in list(nb.ASSETS.items()):
            monkeypatch.setitem(nb.ASSETS, relpath, (f"{base}/{relpath}", sha))
        for relpath in nb.ASSETS:
            assert nb.asset_path(relpath, root=tmp_path).read_bytes() == (REPO / relpath).read_bytes()
        assert len(nb.load_imagenet_labels(tmp_path / nb.LABELS_FILE)) == 1000
    finally:
        httpd.shutdown()
        httpd.server_close()
