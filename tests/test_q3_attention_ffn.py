"""Q3: self-attention equivariance/invariance and the two position-wise FFN implementations."""

import pytest
import torch


def attention_row_by_row(X, Wq, Wk, Wv, alpha):
    """An independent route: the definition S(X)_t = softmax(A_t) X Wv, one row at a time."""
    rows = []
    for t in range(X.shape[0]):
        a_t = (X[t] @ Wq) @ (X @ Wk).T / alpha
        weights = torch.exp(a_t - a_t.max())
        rows.append((weights / weights.sum()) @ X @ Wv)
    return torch.stack(rows)


def test_self_attention_matches_the_row_by_row_definition(nb):
    gen = torch.Generator().manual_seed(3)
    for _ in range(10):
        p = nb.random_attention_problem(gen)
        got = nb.self_attention(p["X"], p["Wq"], p["Wk"], p["Wv"], p["alpha"])
        want = attention_row_by_row(p["X"], p["Wq"], p["Wk"], p["Wv"], p["alpha"])
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_equivariance_and_invariance(nb):
    gen = torch.Generator().manual_seed(4)
    for _ in range(20):
        p = nb.random_attention_problem(gen)
        w = (p["Wq"], p["Wk"], p["Wv"], p["alpha"])
        P, X = p["P"], p["X"]
        S, SP = nb.self_attention(X, *w), nb.self_attention(P @ X, *w)
        assert (P @ S - SP).abs().max() < 1e-10
        ones = torch.ones(X.shape[0], dtype=X.dtype)
        assert (ones @ S - ones @ SP).abs().max() < 1e-10


def test_permutation_matrix_is_a_permutation(nb):
    P = nb.random_permutation_matrix(7, torch.Generator().manual_seed(0))
    assert torch.equal(P.sum(0), torch.ones(7, dtype=P.dtype)) and torch.equal(P.sum(1), torch.ones(7, dtype=P.dtype))
    assert torch.equal(P.T @ P, torch.eye(7, dtype=P.dtype))


def test_self_attention_rejects_bad_input(nb):
    W = torch.randn(3, 2)
    with pytest.raises(ValueError):
        nb.self_attention(torch.randn(2, 4, 3), W, W, W, 1.0)
    with pytest.raises(ValueError):
        nb.self_attention(torch.randn(4, 3), W, W, W, 0.0)


@pytest.mark.parametrize("B,T,D,D_out", [(3, 7, 5, 4), (1, 1, 6, 6), (2, 9, 3, 11)])
def test_linear_and_conv1d_ffn_agree_on_non_square_shapes(nb, B, T, D, D_out):
    torch.manual_seed(0)
    lin, conv = nb.PositionwiseFFNLinear(D, D_out), nb.PositionwiseFFNConv1d(D, D_out)
    nb.copy_ffn_weights(lin, conv)
    Z = torch.randn(B, T, D)
    out = lin(Z)
    assert out.shape == (B, T, D_out)
    torch.testing.assert_close(out, conv(Z))
    # and the other direction
    lin2 = nb.PositionwiseFFNLinear(D, D_out)
    nb.copy_ffn_weights(conv, lin2)
    torch.testing.assert_close(lin2(Z), out)
    # relu really applied, and positions are independent (changing one position changes only its row)
    assert (out >= 0).all()
    Z2 = Z.clone()
    Z2[:, 0] += 1.0
    changed = (lin(Z2) != out).any(dim=-1)
    assert not changed[:, 1:].any()


def test_conv1d_layer_is_kernel_one_stride_one_padding_zero(nb):
    conv = nb.PositionwiseFFNConv1d(4, 5).conv
    assert conv.kernel_size == (1,) and conv.stride == (1,) and conv.padding == (0,)


def test_default_output_width_is_d_model(nb):
    assert nb.PositionwiseFFNLinear(6)(torch.randn(2, 3, 6)).shape == (2, 3, 6)
    assert nb.PositionwiseFFNConv1d(6)(torch.randn(2, 3, 6)).shape == (2, 3, 6)


@pytest.mark.parametrize("cls", ["PositionwiseFFNLinear", "PositionwiseFFNConv1d"])
def test_ffn_rejects_wrong_shapes_and_dtypes(nb, cls):
    layer = getattr(nb, cls)(5, 4)
    with pytest.raises(ValueError, match=r"\(B, T, 5\)"):
        layer(torch.randn(3, 5))              # missing batch axis
    with pytest.raises(ValueError, match=r"\(B, T, 5\)"):
        layer(torch.randn(2, 3, 4))           # wrong feature size
    with pytest.raises(TypeError, match="dtype"):
        layer(torch.randn(2, 3, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="dtype"):
        layer(torch.ones(2, 3, 5, dtype=torch.long))
    with pytest.raises(TypeError):
        layer([[1.0] * 5])


def test_copy_rejects_mismatched_sizes_and_functional_rejects_unknown_route(nb):
    with pytest.raises(ValueError, match="size mismatch"):
        nb.copy_ffn_weights(nb.PositionwiseFFNLinear(5, 4), nb.PositionwiseFFNConv1d(5, 3))
    with pytest.raises(ValueError, match="via"):
        nb.positionwise_ffn_functional(torch.randn(1, 2, 3), torch.randn(4, 3), torch.randn(4), via="conv2d")


def test_functional_routes_agree(nb):
    Z, W, b = torch.randn(2, 7, 3), torch.randn(4, 3), torch.randn(4)
    torch.testing.assert_close(nb.positionwise_ffn_functional(Z, W, b, "linear"),
                               nb.positionwise_ffn_functional(Z, W, b, "conv1d"))
