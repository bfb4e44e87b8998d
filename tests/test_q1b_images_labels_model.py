"""Q1(b): label parsing, image loading of every kind, the AlexNet loader and predict()."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO
from PIL import Image

LABEL_FILE = REPO / "labels" / "imagenet1000_clsidx_to_labels.txt"


# ---------------------------------------------------------------- labels
def test_real_label_file_parses(nb):
    labels = nb.load_imagenet_labels(LABEL_FILE)
    assert len(labels) == 1000 and labels[1].startswith("goldfish") and labels[999].startswith("toilet tissue")


def test_display_names_are_unique_and_keep_colliding_classes_apart(nb):
    names = nb.display_names(nb.load_imagenet_labels(LABEL_FILE))
    assert len(set(names)) == 1000
    assert names[134] != names[517] and "crane" in names[134] and "crane" in names[517]
    assert names[638] != names[639]
    assert names[1] == "goldfish" and names[292] == "tiger"


@pytest.mark.parametrize("text,reason", [
    ("[1, 2, 3]", "dict"),
    ("{0: 'a', 1: 'b'}", "keys 0..999"),
    ("{" + ", ".join(f"{i}: 'c{i}'" for i in range(1, 1001)) + "}", "keys 0..999"),
    ("{" + ", ".join(f"{i}: 'c{i}'" for i in range(999)) + ", 999: 7}", "non-string"),
    ("{" + ", ".join(f"{i}: 'c{i}'" for i in range(999)) + ", 999: '  '}", "empty"),
    ("{0: 'a', 1: ", "not a Python dict literal"),
    ("__import__('os').system('echo pwned')", "not a Python dict literal"),
])
def test_malformed_label_files_are_rejected_with_a_reason(nb, tmp_path, text, reason):
    path = tmp_path / "labels.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=reason):
        nb.load_imagenet_labels(path)


def test_missing_or_binary_label_file(nb, tmp_path):
    with pytest.raises(ValueError, match="Cannot read"):
        nb.load_imagenet_labels(tmp_path / "absent.txt")
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(ValueError):
        nb.load_imagenet_labels(tmp_path / "bin.txt")


# ---------------------------------------------------------------- images
def save(image: Image.Image, path: Path, **kwargs) -> Path:
    image.save(path, **kwargs)
    return path


def gradient_rgb(w: int = 64, h: int = 48) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    return Image.fromarray(np.stack([x, x[:, ::-1], np.full_like(x, 90)], axis=2), "RGB")


@pytest.mark.parametrize("mode", ["RGB", "L", "LA", "P", "RGBA", "CMYK", "1", "I;16"])
def test_every_mode_becomes_rgb_224_in_unit_range_on_8bit_grid(nb, tmp_path, mode):
    base = gradient_rgb()
    if mode == "I;16":
        image = Image.fromarray(np.asarray(base.convert("L"), dtype=np.uint16) * 257)
    else:
        image = base.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    path = save(image, tmp_path / f"img.{fmt.lower()}", format=fmt)
    tensor = nb.load_image(path)
    assert tensor.shape == (3, 224, 224) and tensor.dtype == torch.float32
    assert 0 <= tensor.min() and tensor.max() <= 1
    assert torch.equal(tensor, torch.round(tensor * 255) / 255)


def test_sixteen_bit_keeps_its_range(nb, tmp_path):
    arr = np.full((30, 30), 32768, dtype=np.uint16)
    path = save(Image.fromarray(arr), tmp_path / "grey16.png")
    tensor = nb.load_image(path, size=None)
    assert abs(float(tensor.mean()) - 0.5) < 0.01  # not clipped to white


def test_transparency_is_composited_on_white(nb, tmp_path):
    path = save(Image.new("RGBA", (20, 20), (255, 0, 0, 0)), tmp_path / "clear.png")
    assert torch.all(nb.load_image(path, size=None) == 1.0)


def test_exif_rotation_is_applied(nb, tmp_path):
    image = gradient_rgb(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    path = save(image, tmp_path / "rot.jpg", format="JPEG", exif=exif)
    assert nb.load_image(path, size=None).shape == (3, 40, 20)


def test_squash_and_crop(nb, tmp_path):
    path = save(gradient_rgb(100, 50), tmp_path / "wide.png")
    crop, squash = nb.load_image(path), nb.load_image(path, resize="squash")
    assert crop.shape == squash.shape == (3, 224, 224)
    assert not torch.equal(crop, squash)
    with pytest.raises(ValueError, match="resize"):
        nb.load_image(path, resize="stretch")


def test_missing_non_image_and_truncated_files_name_the_file(nb, tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.jpg"):
        nb.load_image(tmp_path / "nowhere.jpg")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image")
    with pytest.raises(ValueError, match="notes.jpg"):
        nb.load_image(text)
    good = save(gradient_rgb(200, 200), tmp_path / "full.jpg", format="JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    with pytest.raises(ValueError, match="cut.jpg"):
        nb.load_image(cut)


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self) -> None:
        if self.path == "/img.png":
            self.send_response(200)
            self.send_header("Content-Length", str(len(self.payload)))
            self.end_headers()
            self.wfile.write(self.payload)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


def test_load_image_from_a_url(nb, tmp_path):
    path = save(gradient_rgb(), tmp_path / "g.png")
    _ImageHandler.payload = path.read_bytes()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        assert torch.equal(nb.load_image(f"{base}/img.png"), nb.load_image(path))
        with pytest.raises(ValueError, match="404"):
            nb.load_image(f"{base}/missing.png")
        with pytest.raises(ValueError, match="limit"):
            nb.read_image_bytes(f"{base}/img.png", max_bytes=100)
    finally:
        httpd.shutdown()
        httpd.server_close()


# ---------------------------------------------------------------- model
@pytest.fixture
def no_weights(nb, tmp_path, monkeypatch):
    """An empty torch hub cache and a download that fails, whatever the network."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv(nb.ALEXNET_WEIGHTS_ENV, raising=False)

    def refuse(url, dest, **kwargs):
        raise nb.AssetUnavailableError(f"Could not download {url}. Put it at {dest}.")

    monkeypatch.setitem(nb.globals, "download_verified", refuse)
    return tmp_path / "hub"


def test_missing_weights_raise_a_message_that_says_how_to_get_them(nb, no_weights):
    with pytest.raises(nb.AlexNetWeightsUnavailableError) as info:
        nb.load_alexnet(torch.device("cpu"))
    message = str(info.value)
    assert "alexnet-owt-7be5be79.pth" in message and str(no_weights / "checkpoints") in message
    assert "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth" in message
    assert nb.ALEXNET_WEIGHTS_ENV in message


def test_random_fallback_is_frozen_eval_and_marked_untrained(nb, no_weights, capsys):
    model = nb.load_alexnet(torch.device("cpu"), allow_random_weights=True)
    assert model.trained is False and not model.training
    assert not any(p.requires_grad for p in model.parameters())
    assert "UNTRAINED" in capsys.readouterr().out
    x = torch.rand(2, 3, 224, 224)
    mean, std = torch.tensor(nb.IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(nb.IMAGENET_STD).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.model((x - mean) / std))
    again = nb.load_alexnet(torch.device("cpu"), allow_random_weights=True)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))  # seeded


def test_weights_from_a_local_file(nb, no_weights, tmp_path, monkeypatch):
    import torchvision

    torch.manual_seed(5)
    reference = torchvision.models.alexnet(weights=None)
    path = tmp_path / "alexnet.pth"
    torch.save(reference.state_dict(), path)
    monkeypatch.setenv(nb.ALEXNET_WEIGHTS_ENV, str(path))
    model = nb.load_alexnet(torch.device("cpu"))
    assert model.trained is True
    assert torch.equal(model.model.classifier[-1].weight, reference.classifier[-1].weight)


def test_predict_single_and_batch_and_bad_input(nb):
    labels = [f"class{i}, synonym" for i in range(4)]
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))
    one = nb.predict(model, torch.rand(3, 8, 8), labels, topk=2)
    assert len(one) == 2 and one[0][1] >= one[1][1] and one[0][0].startswith("class")
    batch = nb.predict(model, torch.rand(5, 3, 8, 8), labels)
    assert len(batch) == 5 and all(len(row) == 1 for row in batch)
    with pytest.raises(ValueError):
        nb.predict(model, torch.rand(8, 8), labels)
    with pytest.raises(ValueError):
        nb.predict(model, torch.rand(3, 8, 8), labels, topk=5)


def test_frozen_linear_matches_nn_linear_in_value_and_input_gradient(nb):
    torch.manual_seed(0)
    linear = torch.nn.Linear(50, 30)
    frozen = nb.FrozenLinear(linear)
    for n in (1, 6):
        x1 = torch.randn(n, 50, requires_grad=True)
        x2 = x1.detach().clone().requires_grad_(True)
        g = torch.randn(n, 30)
        (linear(x1) * g).sum().backward()
        (frozen(x2) * g).sum().backward()
        torch.testing.assert_close(frozen(x2), linear(x1))
        torch.testing.assert_close(x2.grad, x1.grad)
    assert list(frozen.parameters()) == []
