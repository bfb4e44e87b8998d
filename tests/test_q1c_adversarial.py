"""Q1(c): make_adversarial against a small classifier trained here, saving, reloading, bad input."""

from __future__ import annotations

import pytest
import torch
from torch import nn

NUM_CLASSES = 4
SIZE = 32


def synthetic_batch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Four easy classes: a bright square in one of the four quadrants, on noise."""
    y = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    x = 0.35 + 0.15 * torch.rand(n, 3, SIZE, SIZE, generator=generator)
    half = SIZE // 2
    for i, c in enumerate(y.tolist()):
        r, q = divmod(c, 2)
        x[i, :, r * half + 4:r * half + 12, q * half + 4:q * half + 12] = 0.9
    return x, y


@pytest.fixture(scope="module")
def stand_in() -> nn.Module:
    """A small CNN trained to >95% accuracy on the synthetic task (not random weights)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 8 * 8, NUM_CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        x, y = synthetic_batch(64, gen)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval().requires_grad_(False)
    x, y = synthetic_batch(256, gen)
    with torch.no_grad():
        accuracy = (model(x).argmax(1) == y).float().mean().item()
    assert accuracy > 0.95, accuracy
    return model


@pytest.fixture(scope="module")
def clean_examples(nb, stand_in):
    """Two correctly classified images of different classes, on the 8-bit grid."""
    gen = torch.Generator().manual_seed(1)
    x, y = synthetic_batch(32, gen)
    x = nb.quantize_to_8bit(x)
    with torch.no_grad():
        ok = stand_in(x).argmax(1) == y
    first = int(torch.nonzero(ok & (y == 0))[0])
    second = int(torch.nonzero(ok & (y == 3))[0])
    return x[[first, second]], y[[first, second]]


def test_attack_flips_a_trained_model_to_every_requested_target_and_survives_png(nb, stand_in, clean_examples, tmp_path):
    images, truth = clean_examples
    pairs = [(i, t) for i in range(2) for t in range(NUM_CLASSES) if t != int(truth[i])]
    batch = torch.stack([images[i] for i, _ in pairs])
    targets = [t for _, t in pairs]
    results = nb.make_adversarial(stand_in, batch, targets, alpha=0.1, lr=0.01, max_steps=400, patience=100, seed=0)
    assert len(results) == len(pairs)
    labels = [f"c{k}" for k in range(NUM_CLASSES)]
    for k, (result, target) in enumerate(zip(results, targets)):
        assert result.success and result.predicted == target and result.target == target
        adv = result.adversarial
        assert torch.equal(adv, torch.round(adv * 255) / 255)  # 8-bit representable
        assert 0 <= adv.min() and adv.max() <= 1
        torch.testing.assert_close(result.perturbation, adv - batch[k])
        assert result.perturbation.abs().mean() < 0.05  # small on average
        assert len(result.history["loss"]) == result.steps
        path = nb.save_png(adv, tmp_path / f"adv_{k}.png")
        again = nb.load_image(path, size=None)
        assert torch.equal(again, adv)
        assert nb.predict(stand_in, again, labels)[0][0] == f"c{target}"
    assert not list(tmp_path.glob("*.partial"))


def test_larger_alpha_gives_a_smaller_l1_perturbation(nb, stand_in, clean_examples):
    image = clean_examples[0][0]
    results = nb.make_adversarial(stand_in, image.expand(3, -1, -1, -1), [2, 2, 2], [0.0, 0.01, 0.1],
                                  max_steps=400, patience=400, alpha_decay=1.0)
    l1 = [float(r.perturbation.abs().sum()) for r in results]
    assert all(r.success for r in results) and l1[0] > l1[1] > l1[2]


def test_single_image_returns_one_result_and_is_reproducible(nb, stand_in, clean_examples):
    image = clean_examples[0][0]
    a = nb.make_adversarial(stand_in, image, 2, alpha=0.01, max_steps=300, seed=3)
    b = nb.make_adversarial(stand_in, image, 2, alpha=0.01, max_steps=300, seed=3)
    assert isinstance(a, nb.AdversarialResult) and a.success
    assert torch.equal(a.adversarial, b.adversarial) and a.steps == b.steps


def test_alpha_is_lowered_when_an_example_stalls(nb, stand_in, clean_examples):
    image = clean_examples[0][0]
    result = nb.make_adversarial(stand_in, image, 3, alpha=1e4, max_steps=400, patience=20, alpha_decay=0.1)
    assert result.success and result.alpha < 1e4
    assert result.history["alpha"][0] == pytest.approx(1e4) and result.history["alpha"][-1] == pytest.approx(result.alpha)


def test_budget_exhausted_reports_failure(nb, stand_in, clean_examples):
    result = nb.make_adversarial(stand_in, clean_examples[0][0], 3, alpha=0.0, max_steps=3, margin=1e9)
    assert not result.success and result.steps == 3 and result.predicted in range(NUM_CLASSES)


@pytest.mark.parametrize("kwargs,match", [
    ({"target": NUM_CLASSES}, "class indices"),
    ({"target": -1}, "class indices"),
    ({"alpha": -0.1}, "alpha"),
    ({"lr": 0.0}, "lr"),
    ({"lr": -1.0}, "lr"),
    ({"max_steps": 0}, "max_steps"),
    ({"image": torch.rand(SIZE, SIZE)}, "image must be"),
    ({"image": torch.rand(4, SIZE, SIZE)}, "image must be"),
    ({"image": torch.rand(3, SIZE, SIZE) * 2}, r"\[0, 1\]"),
    ({"image": -torch.rand(3, SIZE, SIZE)}, r"\[0, 1\]"),
    ({"image": torch.rand(2, 3, SIZE, SIZE), "target": [1]}, "one target per image"),
    ({"alpha_decay": 0.0}, "alpha_decay"),
])
def test_bad_arguments_raise_value_error(nb, stand_in, kwargs, match):
    args = {"image": torch.rand(3, SIZE, SIZE), "target": 1, "alpha": 0.1} | kwargs
    with pytest.raises(ValueError, match=match):
        nb.make_adversarial(stand_in, args.pop("image"), args.pop("target"), **args)


def test_target_selection_never_picks_the_true_or_excluded_class(nb):
    for seed in range(30):
        pairs = nb.choose_attack_pairs(nb.SAMPLE_IMAGES, 2, 3, seed, excluded={n: {0, 1, 2} for n in nb.SAMPLE_IMAGES})
        assert len(pairs) == 6 and len({n for n, _ in pairs}) == 2
        for name, target in pairs:
            assert target != nb.SAMPLE_IMAGES[name][0] and target not in {0, 1, 2}
        assert len({t for n, t in pairs if n == pairs[0][0]}) == 3
    assert nb.choose_attack_pairs(nb.SAMPLE_IMAGES, 2, 3, 7) == nb.choose_attack_pairs(nb.SAMPLE_IMAGES, 2, 3, 7)


def test_metrics_and_filenames(nb):
    a = torch.zeros(3, 4, 4)
    b = a.clone()
    b[0, 0, 0] = 2 / 255
    m = nb.perturbation_metrics(a, b)
    assert m["L1"] == pytest.approx(2) and m["Linf"] == pytest.approx(2) and m["L2"] == pytest.approx(2)
    assert nb.perturbation_metrics(a, a)["PSNR_dB"] == float("inf")
    name = nb.adversarial_filename("n02129604_9026_tiger.jpg", 417, ["x"] * 417 + ["balloon, party"])
    assert name == "n02129604_9026_tiger__to_0417_balloon__party.png"


def test_gradient_scale_equals_per_image_autograd_and_starts_attacks_that_flip(nb, stand_in, clean_examples):
    x, y = clean_examples
    targets = [(int(c) + 1) % NUM_CLASSES for c in y]
    scale = nb.cross_entropy_gradient_scale(stand_in, x, targets)
    for i, target in enumerate(targets):  # second route: one image at a time, mean cross-entropy of one
        xi = x[i:i + 1].clone().requires_grad_(True)
        nn.functional.cross_entropy(stand_in(xi), torch.tensor([target])).backward()
        torch.testing.assert_close(scale[i], xi.grad.abs().mean())
    assert (scale > 0).all()
    results = nb.make_adversarial(stand_in, x, targets, scale.tolist(), max_steps=300, patience=50)
    assert all(r.success and r.predicted == t for r, t in zip(results, targets))
    with pytest.raises(ValueError, match="targets"):
        nb.cross_entropy_gradient_scale(stand_in, x, targets[:1])
