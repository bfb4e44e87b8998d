"""Q1(c): make_adversarial's mechanics on a small CNN trained here.

Fast; the trained ImageNet network is in tests/test_q1_trained_network.py.
"""

from __future__ import annotations

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


def test_every_target_is_reached_on_the_8bit_grid_and_the_history_is_kept(nb, stand_in, clean):
    images, truth = clean
    pairs = [(i, t) for i in range(2) for t in range(NUM_CLASSES) if t != int(truth[i])]
    batch = torch.stack([images[i] for i, _ in pairs])
    results = nb.make_adversarial(stand_in, batch, [t for _, t in pairs], alpha=0.1, max_steps=400, seed=0)
    assert len(results) == len(pairs)
    for k, (result, (_, target)) in enumerate(zip(results, pairs)):
        assert result.success and result.target == target
        assert torch.equal(result.adversarial, torch.round(result.adversarial * 255) / 255)
        with torch.no_grad():  # the stored image is the one the model classified
            assert int(stand_in(result.adversarial[None]).argmax()) == target
        assert (result.adversarial - batch[k]).abs().mean() < 0.05 and 1 <= result.steps < 400


def test_a_larger_alpha_gives_a_smaller_l1_perturbation(nb, stand_in, clean):
    image = clean[0][0]
    results = nb.make_adversarial(stand_in, image.expand(3, -1, -1, -1), [2, 2, 2], [0.0, 0.01, 0.1],
                                  max_steps=400, max_decays=0)
    l1 = [float((r.adversarial - image).abs().sum()) for r in results]
    assert all(r.success for r in results) and l1[0] > l1[1] > l1[2]


def test_one_image_gives_one_result_the_same_for_the_same_seed(nb, stand_in, clean):
    a = nb.make_adversarial(stand_in, clean[0][0], 2, alpha=0.01, max_steps=300, seed=3)
    b = nb.make_adversarial(stand_in, clean[0][0], 2, alpha=0.01, max_steps=300, seed=3)
    assert isinstance(a, nb.AdversarialResult) and a.success
    assert torch.equal(a.adversarial, b.adversarial) and a.steps == b.steps


def test_alpha_is_lowered_when_an_example_stalls(nb, stand_in, clean):
    stalled = nb.make_adversarial(stand_in, clean[0][0], 3, alpha=1.0, max_steps=20, max_decays=0)
    assert not stalled.success  # alpha = 1 is too strong for this network ...
    result = nb.make_adversarial(stand_in, clean[0][0], 3, alpha=1.0, max_steps=400, patience=20)
    assert result.success and result.alpha == pytest.approx(0.01)  # ... 1/100 of it is not: two decays


def test_alpha_never_falls_below_a_hundredth_of_its_start(nb, stand_in, clean):
    """At most two decays: a long stalled attack keeps alpha = start/100, not plain cross-entropy."""
    result = nb.make_adversarial(stand_in, clean[0][0], 3, alpha=1.0, max_steps=200, patience=20, margin=1e9)
    assert not result.success and result.steps == 200 and result.alpha == pytest.approx(0.01)
    fixed = nb.make_adversarial(stand_in, clean[0][0], 3, alpha=1.0, max_steps=60, patience=20, margin=1e9,
                                max_decays=0)
    assert fixed.alpha == 1.0


def test_default_alpha_is_each_examples_mean_input_gradient(nb, stand_in, clean):
    x, y = clean
    targets = (y + 1) % NUM_CLASSES
    gradient = nb.cross_entropy_input_gradient(stand_in, x, targets)
    for i in range(len(x)):  # second route: one image at a time
        xi = x[i:i + 1].clone().requires_grad_(True)
        nn.functional.cross_entropy(stand_in(xi), targets[i:i + 1]).backward()
        torch.testing.assert_close(gradient[i], xi.grad[0])
    scale = gradient.abs().flatten(1).mean(1)
    stalled = nb.make_adversarial(stand_in, x, targets.tolist(), max_steps=1, margin=1e9)
    assert [r.alpha for r in stalled] == pytest.approx(scale.tolist())


def test_an_exhausted_budget_reports_failure(nb, stand_in, clean):
    result = nb.make_adversarial(stand_in, clean[0][0], 3, alpha=0.0, max_steps=3, margin=1e9)
    assert not result.success and result.steps == 3 and result.alpha == 0.0


@pytest.mark.parametrize("image,target", [(torch.rand(3, SIZE, SIZE) * 2, 1),
                                          (torch.rand(2, 3, SIZE, SIZE), [1])])
def test_pixels_outside_0_1_or_a_missing_target_are_refused(nb, stand_in, image, target):
    with pytest.raises(ValueError, match="one target per image"):
        nb.make_adversarial(stand_in, image, target)


def test_save_and_reload_gives_back_the_8bit_image(nb, clean, tmp_path):
    image = clean[0][0]
    again = nb.save_and_reload(image, tmp_path / "sub" / "x.png")
    assert torch.equal(again, image) and (tmp_path / "sub" / "x.png").is_file()
