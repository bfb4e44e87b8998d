"""Q1(a): receptive_field, its edge cases, and agreement with the autograd probe."""

import random

import pytest


def test_the_answer_literal_reading(nb):
    layers = nb.ALEXNET_FIGURE_LAYERS
    assert nb.receptive_field(layers[:1], 27) == (105, 115)
    assert nb.receptive_field(layers[:2], 13) == (97, 115)
    assert nb.receptive_field(layers[:3], 13) == (81, 131)


def test_the_answer_exact_middle_is_centred_on_pixel_114(nb):
    layers = nb.ALEXNET_FIGURE_LAYERS
    for depth, pos, expected in [(1, 28, (109, 119)), (2, 14, (105, 123)), (3, 14, (89, 139))]:
        first, last = nb.receptive_field(layers[:depth], pos)
        assert (first, last) == expected and (first + last) / 2 == 114


def test_center_positions_readings(nb):
    assert nb.center_positions(55) == {"literal": 27, "middle": 28}
    assert nb.center_positions(27) == {"literal": 13, "middle": 14}


def test_figure_sizes_jumps_and_sizes(nb):
    assert nb.feature_map_sizes(nb.ALEXNET_FIGURE_LAYERS, 227) == [55, 27, 27, 13, 13, 13, 13, 6]
    assert nb.jump_and_size(nb.ALEXNET_FIGURE_LAYERS) == [
        (4, 11), (8, 19), (8, 51), (16, 67), (16, 99), (16, 131), (16, 163), (32, 195)]


def test_one_layer(nb):
    assert nb.receptive_field([(3, 1, 0)], 5, input_size=None) == (5, 7)
    assert nb.receptive_field([(11, 4, 0)], 1) == (1, 11)


def test_stride_one_identity_layers_change_nothing(nb):
    for pos in (1, 17, 227):
        assert nb.receptive_field([(1, 1, 0)] * 5, pos) == (pos, pos)


def test_padding_is_reported_unclipped(nb):
    assert nb.receptive_field([(3, 1, 1)], 1) == (0, 2)
    assert nb.receptive_field([(5, 1, 2)], 227) == (225, 229)


@pytest.mark.parametrize("layers,position", [
    ([(0, 1, 0)], 1),          # kernel < 1
    ([(3, 0, 0)], 1),          # stride < 1
    ([(3, 1, -1)], 1),         # negative padding
    ([], 1),                   # no layers
    ([(3, 1)], 1),             # not a triple
    ([(3.0, 1, 0)], 1),        # not integers
    ([(11, 4, 0)], 0),         # positions are 1-based
    ([(11, 4, 0)], 56),        # layer 1 has 55 units
    ([(11, 4, 0)], 2.5),       # not an integer
    ([(300, 1, 0)], 1),        # kernel larger than the input
])
def test_invalid_arguments_raise_value_error(nb, layers, position):
    with pytest.raises(ValueError):
        nb.receptive_field(layers, position)


def test_autograd_agrees_everywhere_on_layer_three(nb):
    """Every 3rd unit of layer 3 (27x27), including edges where the padding clips the field."""
    layers = nb.ALEXNET_FIGURE_LAYERS[:3]
    for h in range(1, 28, 3):
        w = 28 - h
        h1, h2 = nb.receptive_field(layers, h)
        w1, w2 = nb.receptive_field(layers, w)
        assert nb.receptive_field_by_autograd(layers, (h, w)) == (max(h1, 1), min(h2, 227), max(w1, 1), min(w2, 227))


def test_autograd_agrees_on_random_stacks_along_the_width(nb):
    """Random unpadded stacks: widths count from the left in both routes, so they agree exactly."""
    rng = random.Random(1)
    for _ in range(8):
        layers = [(rng.randint(1, 5), rng.randint(1, 3), 0) for _ in range(rng.randint(1, 3))]
        n_in = rng.randint(40, 60)
        size = nb.feature_map_sizes(layers, n_in)[-1]
        pos = rng.randint(1, size)
        probed = nb.receptive_field_by_autograd(layers, (1, pos), input_size=n_in)
        assert probed[2:] == nb.receptive_field(layers, pos, input_size=n_in)


def test_probe_rejects_positions_outside_the_map(nb):
    with pytest.raises(ValueError):
        nb.receptive_field_by_autograd(nb.ALEXNET_FIGURE_LAYERS[:1], (56, 1))
