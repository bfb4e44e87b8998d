"""Q1(c): make_adversarial's mechanics on a small CNN trained here.

Fast; the trained ImageNet network is in tests/test_q1_trained_network.py. `make_adversarial` takes a batch
(N, 3, H, W), a target and an α per image, and `AttackSettings`; it always gives back a list.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

NUM_CLASSES, SIZE = 4, 32


def synthetic_batch(n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Four easy classes: a bright square in one of the four quadrants, on noise."""
    y = torch.randint(0, NUM_CLASSES, (n,), generator=generator)
    x = 0.35 + 0.15 * torch.rand(n, 3, SIZE, SIZE, generator=generator)
    for i, c in enumerate(y.tolist()):
        r, q = divmod(c, 2)
        x[i, :, r * 16 + 4: r * 16 + 12, q * 16 + 4: q * 16 + 12] = 0.9
    return x, y


@pytest.fixture(scope="module")
def stand_in() -> nn.Module:
    """A small CNN trained to >95% accuracy on the synthetic task (not random weights)."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(16 * 8 * 8, NUM_CLASSES))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(150):
        x, y = synthetic_batch(64, gen)
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval().requires_grad_(False)
    x, y = synthetic_batch(256, gen)
    with torch.no_grad():
        assert (model(x).argmax(1) == y).float().mean() > 0.95
    return model


@pytest.fixture(scope="module")
def clean(nb, stand_in) -> tuple[torch.Tensor, torch.Tensor]:
    """Two correctly classified images of classes 0 and 3, on the 8-bit grid."""
    x, y = synthetic_batch(32, torch.Generator().manual_seed(1))
    x = nb.quantize_to_8bit(x)
    with torch.no_grad():
        ok = stand_in(x).argmax(1) == y
    keep = [int(torch.nonzero(ok & (y == c))[0]) for c in (0, 3)]
    return x[keep], y[keep]


def attack(nb, model, images, targets, alphas, seed=0, **settings):
    """make_adversarial with AttackSettings(**settings) and one α per image."""
    return nb.make_adversarial(model, images, targets, torch.tensor(alphas, dtype=torch.float32),
                               nb.AttackSettings(**settings), seed)


def test_attack_settings_are_frozen_with_the_documented_defaults(nb):
    settings = nb.AttackSettings()
    assert dataclasses.asdict(settings) == {"lr": 0.01, "max_steps": 1000, "margin": 0.1, "patience": 100,
                                            "alpha_decay": 0.1, "max_decays": 2, "init_scale": 0.01,
                                            "l1_mean": False}
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 0.1
    assert dataclasses.replace(settings, max_decays=0).max_decays == 0 and settings.max_decays == 2


def test_every_target_is_reached_with_a_small_change_on_the_8bit_grid(nb, stand_in, clean):
    images, truth = clean
    pairs = [(i, t) for i in range(2) for t in range(NUM_CLASSES) if t != int(truth[i])]
    batch = torch.stack([images[i] for i, _ in pairs])
    results = attack(nb, stand_in, batch, [t for _, t in pairs], [0.1] * len(pairs), max_steps=400)
    assert len(results) == len(pairs)
    for k, (result, (_, target)) in enumerate(zip(results, pairs)):
        assert result.success and result.target == target
        assert torch.equal(result.adversarial, torch.round(result.adversarial * 255) / 255)
        with torch.no_grad():  # the stored image is the one the model classified
            assert int(stand_in(result.adversarial[None]).argmax()) == target
        assert (result.adversarial - batch[k]).abs().mean() < 0.05 and 1 <= result.steps < 400


def test_a_batch_of_one_image_gives_a_list_of_one_result(nb, stand_in, clean):
    results = attack(nb, stand_in, clean[0][:1], [2], [0.01], max_steps=300)
    assert isinstance(results, list) and len(results) == 1 and isinstance(results[0], nb.AdversarialResult)


def test_the_same_seed_gives_the_same_attack_and_another_seed_another_start(nb, stand_in, clean):
    a, b, c = (attack(nb, stand_in, clean[0][:1], [2], [0.01], seed=seed, max_steps=300)[0]
               for seed in (3, 3, 4))
    assert a.success and torch.equal(a.adversarial, b.adversarial) and a.steps == b.steps
    assert not torch.equal(a.adversarial, c.adversarial)


def test_a_larger_alpha_gives_a_smaller_l1_perturbation(nb, stand_in, clean):
    image = clean[0][0]
    results = attack(nb, stand_in, image.expand(3, -1, -1, -1), [2, 2, 2], [0.0, 0.01, 0.1], max_steps=400,
                     max_decays=0)
    l1 = [float((r.adversarial - image).abs().sum()) for r in results]
    assert all(r.success for r in results) and l1[0] > l1[1] > l1[2]


def test_l1_mean_pulls_each_value_with_alpha_over_the_number_of_values(nb, stand_in, clean):
    """α on the mean of |r_i| is α/N on the sum ||r||_1: the same attack, up to float rounding."""
    image = clean[0][:1]
    alpha, n = 5.0, image[0].numel()
    [on_mean] = attack(nb, stand_in, image, [2], [alpha], max_steps=400, max_decays=0, l1_mean=True)
    [on_sum] = attack(nb, stand_in, image, [2], [alpha / n], max_steps=400, max_decays=0)
    assert on_sum.success and on_mean.success and on_sum.steps == on_mean.steps
    assert float((on_sum.adversarial - on_mean.adversarial).abs().max()) <= 1 / 255 + 1e-6
    [same_alpha_on_sum] = attack(nb, stand_in, image, [2], [alpha], max_steps=400, max_decays=0)
    assert not same_alpha_on_sum.success  # the same α on the sum pulls N times harder: the attack stalls


def test_alpha_is_lowered_when_an_example_stalls(nb, stand_in, clean):
    image = clean[0][:1]
    [stalled] = attack(nb, stand_in, image, [3], [1.0], max_steps=20, max_decays=0)
    assert not stalled.success  # alpha = 1 is too strong for this network ...
    [result] = attack(nb, stand_in, image, [3], [1.0], max_steps=400, patience=20)
    assert result.success and result.alpha == pytest.approx(0.01)  # ... 1/100 of it is not: two decays


def test_alpha_never_falls_below_a_hundredth_of_its_start(nb, stand_in, clean):
    """At most two decays: a long stalled attack keeps alpha = start/100, not plain cross-entropy."""
    image = clean[0][:1]
    [result] = attack(nb, stand_in, image, [3], [1.0], max_steps=200, patience=20, margin=1e9)
    assert not result.success and result.steps == 200 and result.alpha == pytest.approx(0.01)
    [fixed] = attack(nb, stand_in, image, [3], [1.0], max_steps=60, patience=20, margin=1e9, max_decays=0)
    assert fixed.alpha == 1.0


def test_cross_entropy_input_gradient_is_each_images_own(nb, stand_in, clean):
    x, y = clean
    targets = (y + 1) % NUM_CLASSES
    gradient = nb.cross_entropy_input_gradient(stand_in, x, targets)
    for i in range(len(x)):  # second route: one image at a time
        xi = x[i:i + 1].clone().requires_grad_(True)
        nn.functional.cross_entropy(stand_in(xi), targets[i:i + 1]).backward()
        torch.testing.assert_close(gradient[i], xi.grad[0])


def test_default_alphas_are_each_examples_mean_absolute_input_gradient(nb, stand_in, clean):
    x, y = clean
    targets = (y + 1) % NUM_CLASSES
    alphas = nb.default_alphas(stand_in, x, targets)
    assert alphas.shape == (len(x),)
    for i in range(len(x)):  # second route: one image at a time, by hand
        xi = x[i:i + 1].clone().requires_grad_(True)
        nn.functional.cross_entropy(stand_in(xi), targets[i:i + 1]).backward()
        assert float(alphas[i]) == pytest.approx(float(xi.grad.abs().mean()), rel=1e-5)


def test_each_image_is_attacked_with_its_own_alpha(nb, stand_in, clean):
    x, y = clean
    stalled = attack(nb, stand_in, x, ((y + 1) % NUM_CLASSES).tolist(), [0.25, 0.75], max_steps=1, margin=1e9)
    assert [r.alpha for r in stalled] == [0.25, 0.75]


def test_an_exhausted_budget_reports_failure(nb, stand_in, clean):
    [result] = attack(nb, stand_in, clean[0][:1], [3], [0.0], max_steps=3, margin=1e9)
    assert not result.success and result.steps == 3 and result.alpha == 0.0


@pytest.mark.parametrize("images,targets,alphas,mistake", [
    (torch.rand(1, 3, SIZE, SIZE) * 2, [1], [0.1], r"pixels in \[0, 1\]"),
    (torch.rand(2, 3, SIZE, SIZE), [1], [0.1, 0.1], "one target and one α per image"),
    (torch.rand(2, 3, SIZE, SIZE), [1, 2], [0.1], "one target and one α per image"),
])
def test_pixels_outside_0_1_or_a_missing_target_or_alpha_are_refused(nb, stand_in, images, targets, alphas,
                                                                      mistake):
    with pytest.raises(ValueError, match=mistake):
        attack(nb, stand_in, images, targets, alphas)


def test_save_and_reload_gives_back_the_8bit_image(nb, clean, tmp_path):
    image = clean[0][0]
    again = nb.save_and_reload(image, tmp_path / "sub" / "x.png")
    assert torch.equal(again, image) and (tmp_path / "sub" / "x.png").is_file()
