"""Q1(a): receptive_field against the hand derivation and against the autograd probe."""

import random

LAYERS_TO_227 = [55, 27, 27, 13, 13, 13, 13, 6]


def test_the_answer_literal_reading(nb):
    layers = nb.ALEXNET_FIGURE_LAYERS
    assert nb.receptive_field(layers[:1], 27) == (105, 115)
    assert nb.receptive_field(layers[:2], 13) == (97, 115)
    assert nb.receptive_field(layers[:3], 13) == (81, 131)


def test_the_exact_middle_reading_is_centred_on_pixel_114(nb):
    for depth, unit, expected in [(1, 28, (109, 119)), (2, 14, (105, 123)), (3, 14, (89, 139))]:
        first, last = nb.receptive_field(nb.ALEXNET_FIGURE_LAYERS[:depth], unit)
        assert (first, last) == expected and (first + last) / 2 == 114


def test_the_figure_layers_give_the_figure_map_sizes(nb):
    n, sizes = 227, []
    for k, s, p in nb.ALEXNET_FIGURE_LAYERS:
        n = (n + 2 * p - k) // s + 1
        sizes.append(n)
    assert sizes == LAYERS_TO_227


def test_small_cases_by_hand(nb):
    assert nb.receptive_field([(3, 1, 0)], 5) == (5, 7)
    assert nb.receptive_field([(11, 4, 0)], 1) == (1, 11)
    assert nb.receptive_field([(1, 1, 0)] * 5, 17) == (17, 17)
    assert nb.receptive_field([(3, 1, 1)], 1) == (0, 2)  # the padding is not clipped


def test_autograd_agrees_on_every_third_unit_of_layer_three_including_clipped_edges(nb):
    layers = nb.ALEXNET_FIGURE_LAYERS[:3]
    for h in range(1, 28, 3):
        w = 28 - h
        h1, h2 = nb.receptive_field(layers, h)
        w1, w2 = nb.receptive_field(layers, w)
        expected = (max(h1, 1), min(h2, 227), max(w1, 1), min(w2, 227))  # clipped to the image
        assert nb.receptive_field_by_autograd(layers, (h, w)) == expected


def test_autograd_agrees_on_random_unpadded_stacks(nb):
    rng = random.Random(1)
    for _ in range(8):
        layers = [(rng.randint(1, 5), rng.randint(1, 3), 0) for _ in range(rng.randint(1, 3))]
        n = size = rng.randint(40, 60)
        for k, s, _ in layers:
            n = (n - k) // s + 1
        unit = rng.randint(1, n)
        assert nb.receptive_field_by_autograd(layers, (1, unit), size)[2:] == nb.receptive_field(layers, unit)
