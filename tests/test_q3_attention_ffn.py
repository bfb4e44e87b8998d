"""Q3: self-attention against its row-by-row definition, equivariance, the two position-wise FFN layers."""

import pytest
import torch


def random_problem(generator: torch.Generator, T: int = 6, d_in: int = 5, d_k: int = 3):
    X, Wq, Wk, Wv = (torch.randn(*shape, generator=generator, dtype=torch.float64)
                     for shape in ((T, d_in), (d_in, d_k), (d_in, d_k), (d_in, d_k)))
    return X, Wq, Wk, Wv, d_k ** 0.5


def attention_row_by_row(X, Wq, Wk, Wv, alpha):
    """An independent route: S(X)_t = softmax(A_t) X Wv, one row at a time."""
    rows = []
    for t in range(X.shape[0]):
        a_t = (X[t] @ Wq) @ (X @ Wk).T / alpha
        weights = torch.exp(a_t - a_t.max())
        rows.append((weights / weights.sum()) @ X @ Wv)
    return torch.stack(rows)


def test_self_attention_matches_the_row_by_row_definition_and_is_equivariant(nb):
    generator = torch.Generator().manual_seed(3)
    for T in (1, 2, 7):
        X, Wq, Wk, Wv, alpha = random_problem(generator, T)
        S = nb.self_attention(X, Wq, Wk, Wv, alpha)
        torch.testing.assert_close(S, attention_row_by_row(X, Wq, Wk, Wv, alpha), rtol=1e-12, atol=1e-12)
        P = torch.eye(T, dtype=X.dtype)[torch.randperm(T, generator=generator)]
        torch.testing.assert_close(P @ S, nb.self_attention(P @ X, Wq, Wk, Wv, alpha), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("B,T,D,D_out", [(3, 7, 5, 4), (1, 1, 6, 6), (2, 9, 3, 11)])
def test_linear_and_conv1d_layers_agree_and_are_position_wise(nb, B, T, D, D_out):
    torch.manual_seed(0)
    linear, conv = nb.PositionwiseFFNLinear(D, D_out), nb.PositionwiseFFNConv1d(D, D_out)
    with torch.no_grad():
        conv.conv.weight.copy_(linear.linear.weight[:, :, None])
        conv.conv.bias.copy_(linear.linear.bias)
    Z = torch.randn(B, T, D)
    out = linear(Z)
    assert out.shape == (B, T, D_out) and (out >= 0).all()
    torch.testing.assert_close(out, conv(Z))
    Z2 = Z.clone()
    Z2[:, 0] += 1.0  # changing one position changes only its own output row
    assert not (linear(Z2) != out)[:, 1:].any()


def test_the_layers_map_d_to_d_by_default_with_a_kernel_1_stride_1_padding_0_conv(nb):
    assert nb.PositionwiseFFNLinear(6)(torch.randn(2, 3, 6)).shape == (2, 3, 6)
    assert nb.PositionwiseFFNConv1d(6)(torch.randn(2, 3, 6)).shape == (2, 3, 6)
    conv = nb.PositionwiseFFNConv1d(4).conv
    assert conv.kernel_size == (1,) and conv.stride == (1,) and conv.padding == (0,)
