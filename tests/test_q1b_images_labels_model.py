"""Q1(b): the label file, image loading, the AlexNet loader and its messages, the prediction helpers.

predict (a batch), top_prediction (one image) and show_predictions take the display names.

The weights are random here; tests/test_q1_trained_network.py checks predictions on a trained network.
"""

from __future__ import annotations

import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from conftest import REPO
from PIL import Image

LABEL_FILE = REPO / "labels" / "imagenet1000_clsidx_to_labels.txt"
WEIGHTS_NAME = "alexnet-owt-7be5be79.pth"


def test_the_label_file_parses_into_unique_display_names(nb):
    labels = nb.load_imagenet_labels(LABEL_FILE)
    assert len(labels) == 1000
    assert labels[1].startswith("goldfish") and labels[999].startswith("toilet tissue")
    names = nb.display_names(labels)
    assert len(set(names)) == 1000 and names[1] == "goldfish" and names[292] == "tiger"
    assert "crane" in names[134] and "crane" in names[517] and names[134] != names[517]
    assert names[638] != names[639]


@pytest.mark.parametrize("text", [
    "[1, 2, 3]",                                                          # not a dict
    "{0: 'a', 1: 'b'}",                                                   # too few classes
    "{" + ", ".join(f"{i}: 'c{i}'" for i in range(1, 1001)) + "}",         # keys 1..1000
    "{" + ", ".join(f"{i}: 'c{i}'" for i in range(999)) + ", 999: 7}",    # a name that is not a string
    "{" + ", ".join(f"{i}: 'c{i}'" for i in range(999)) + ", 999: ' '}",  # an empty name
    "{0: 'a', 1: ",                                                       # truncated
    "__import__('os').system('echo pwned')",                              # code is never run
])
def test_a_malformed_label_file_is_refused_with_its_path(nb, tmp_path, text):
    path = tmp_path / "labels.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match="labels.txt"):
        nb.load_imagenet_labels(path)


def test_a_missing_or_binary_label_file_is_refused(nb, tmp_path):
    (tmp_path / "bin.txt").write_bytes(b"\xff\xfe\x00\x81")
    for path in (tmp_path / "absent.txt", tmp_path / "bin.txt"):
        with pytest.raises(ValueError, match=path.name):
            nb.load_imagenet_labels(path)


def gradient_rgb(w: int = 64, h: int = 48) -> Image.Image:
    x = np.linspace(0, 255, w, dtype=np.uint8)[None, :].repeat(h, 0)
    return Image.fromarray(np.stack([x, x[:, ::-1], np.full_like(x, 90)], axis=2), "RGB")


@pytest.mark.parametrize("mode", ["RGB", "L", "LA", "P", "RGBA", "CMYK", "1"])
def test_every_image_mode_becomes_rgb_224_in_the_unit_range_on_the_8bit_grid(nb, tmp_path, mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    path = tmp_path / f"img.{fmt.lower()}"
    gradient_rgb().convert(mode).save(path, format=fmt)
    x = nb.load_image(path)
    assert x.shape == (3, 224, 224) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, torch.round(x * 255) / 255)


def test_resize_keeps_the_aspect_and_crops_the_center(nb, tmp_path):
    image = np.zeros((100, 300, 3), dtype=np.uint8)
    image[:, :100] = 255  # a white left third: cropped away by a center crop of the 256-high resize
    Image.fromarray(image).save(tmp_path / "wide.png")
    x = nb.load_image(tmp_path / "wide.png")
    assert x.shape == (3, 224, 224) and float(x[:, :, :10].max()) < 0.05


def test_exif_rotation_is_applied_and_size_none_keeps_the_pixels(nb, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    gradient_rgb(40, 20).save(tmp_path / "rot.jpg", format="JPEG", exif=exif)
    assert nb.load_image(tmp_path / "rot.jpg", size=None).shape == (3, 40, 20)


def test_missing_non_image_and_truncated_files_are_named_in_the_error(nb, tmp_path):
    (tmp_path / "notes.jpg").write_text("this is not an image")
    gradient_rgb(200, 200).save(tmp_path / "full.jpg", format="JPEG")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    for name in ("nowhere.jpg", "notes.jpg", "cut.jpg"):
        with pytest.raises(ValueError, match=name):
            nb.load_image(tmp_path / name)


@pytest.fixture
def hub(nb, tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache, and downloads that fail as they do offline."""
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))

    def offline(url: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "hub" / "checkpoints"


def test_missing_weights_stop_with_a_message_that_says_where_to_put_them(nb, hub):
    with pytest.raises(nb.AlexNetWeightsUnavailableError) as info:
        nb.load_alexnet(torch.device("cpu"))
    message = str(info.value)
    assert f"https://download.pytorch.org/models/{WEIGHTS_NAME}" in message
    assert str(hub / WEIGHTS_NAME) in message


def test_a_damaged_cached_file_is_reported_too(nb, hub):
    hub.mkdir(parents=True)
    (hub / WEIGHTS_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(nb.AlexNetWeightsUnavailableError, match=WEIGHTS_NAME):
        nb.load_alexnet(torch.device("cpu"))


def test_cached_weights_load_through_torchvision_frozen_and_normalising(nb, hub):
    torch.manual_seed(5)
    reference = torchvision.models.alexnet()
    hub.mkdir(parents=True)
    torch.save(reference.state_dict(), hub / WEIGHTS_NAME)
    model = nb.load_alexnet(torch.device("cpu"))
    assert model.trained and not model.training and not any(p.requires_grad for p in model.parameters())
    x = torch.rand(2, 3, 224, 224)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference.eval()((x - mean) / std))
    assert sum(p.numel() for p in model.parameters()) == 61_100_840


def test_smoke_mode_falls_back_to_random_weights_marked_untrained(nb, hub):
    model = nb.load_alexnet(torch.device("cpu"), allow_random_weights=True)
    assert model.trained is False and isinstance(model[1], torchvision.models.AlexNet)


def test_the_random_weights_are_drawn_from_the_seed_argument_not_a_global(nb, hub, monkeypatch):
    def weights(seed: int) -> list[torch.Tensor]:
        model = nb.load_alexnet(torch.device("cpu"), allow_random_weights=True, seed=seed)
        return list(model.state_dict().values())

    first = weights(0)
    monkeypatch.setitem(nb.globals, "SEED", 123)  # the notebook's setting: load_alexnet must not read it
    assert all(torch.equal(a, b) for a, b in zip(first, weights(0)))
    assert not all(torch.equal(a, b) for a, b in zip(first, weights(1)))


@pytest.fixture
def linear_model() -> torch.nn.Module:
    """A random linear classifier over 4 classes for 8x8 images."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 4))


NAMES = ["zero", "one", "two", "three"]  # display names, as display_names gives them


def test_predict_gives_each_image_of_a_batch_its_top_k_names_and_probabilities(nb, linear_model):
    batch = torch.rand(5, 3, 8, 8)
    rows = nb.predict(linear_model, batch, NAMES, topk=2)
    with torch.no_grad():
        expected = linear_model(batch).softmax(dim=1).topk(2, dim=1)
    assert len(rows) == 5
    for row, values, indices in zip(rows, expected.values, expected.indices):
        assert [name for name, _ in row] == [NAMES[i] for i in indices.tolist()]
        assert [prob for _, prob in row] == pytest.approx(values.tolist())
        assert row[0][1] >= row[1][1]


def test_predict_uses_the_names_it_is_given(nb, linear_model):
    batch = torch.rand(3, 3, 8, 8)
    other = [f"class {i}, synonym" for i in range(4)]  # taken as they are, not cut to a first synonym
    assert [row[0][0] for row in nb.predict(linear_model, batch, other)] == [
        other[NAMES.index(row[0][0])] for row in nb.predict(linear_model, batch, NAMES)]


def test_top_prediction_gives_one_images_top_name_and_probability(nb, linear_model):
    batch = torch.rand(3, 3, 8, 8)
    rows = nb.predict(linear_model, batch, NAMES)
    for image, [(name, prob), *_] in zip(batch, rows):
        top = nb.top_prediction(linear_model, image, NAMES)
        assert top[0] == name and top[1] == pytest.approx(prob)  # a batch of one: float rounding may differ


def test_show_predictions_titles_each_image_with_its_top_name(nb, linear_model, monkeypatch):
    import matplotlib.pyplot as plt

    linear_model.trained = True
    monkeypatch.setattr(plt, "show", lambda: None)  # keep the figure open to read it
    images = [torch.rand(3, 8, 8) for _ in range(3)]
    nb.show_predictions(linear_model, images, NAMES, [f"note {k}" for k in range(3)], original=images[0])
    axes = plt.gcf().axes
    try:
        assert len(axes) == 6  # a row of images, a row of their changes
        for ax, image in zip(axes[:3], images):
            assert nb.top_prediction(linear_model, image, NAMES)[0] in ax.get_title()
    finally:
        plt.close("all")
