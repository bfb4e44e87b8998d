"""Q2: corpus, model, truncated BPTT, sampling, distances, training without teacher forcing, checkpoints."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import REPO
from torch import nn

PTB = REPO / "data" / "ptb"


@pytest.fixture(scope="module")
def full_corpus(nb):
    corpus = nb.Corpus()
    ids = corpus.get_data(PTB / "ptb.train.txt", 20)
    return corpus, ids


def test_corpus_statistics_at_the_starter_defaults(nb, full_corpus):
    corpus, ids = full_corpus
    assert len(corpus.dictionary) == 10_000 and corpus.token_counts["ptb.train.txt"] == 929_589
    assert ids.shape == (20, 929_589 // 20) and ids.dtype == torch.long
    assert len(nb.window_starts(ids, 30)) == 1549
    assert corpus.dictionary.idx2word[0] == "aer"  # ids in order of first appearance
    words = (PTB / "ptb.train.txt").read_text().split("\n")[0].split()
    assert [corpus.dictionary.idx2word[i] for i in ids[0, : len(words) + 1].tolist()] == words + ["<eos>"]


def test_validation_uses_the_training_dictionary_and_rejects_unknown_words(nb, full_corpus, tmp_path):
    corpus, _ = full_corpus
    valid = corpus.get_data(PTB / "ptb.valid.txt", 20, extend_vocab=False)
    assert valid.numel() == 73_760 // 20 * 20 and len(corpus.dictionary) == 10_000
    odd = tmp_path / "odd.txt"
    odd.write_text("the company said\nthe zyzzyva said\n")
    with pytest.raises(KeyError, match="zyzzyva") as info:
        corpus.get_data(odd, 2, extend_vocab=False)
    assert "line 2" in str(info.value)
    with pytest.raises(FileNotFoundError):
        corpus.get_data(tmp_path / "none.txt", 2)
    with pytest.raises(ValueError):
        corpus.get_data(odd, 0)


def tiny_ids(batch: int = 4, cols: int = 121, vocab: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, cols), generator=torch.Generator().manual_seed(seed))


def test_model_shapes_and_bad_sizes(nb):
    model = nb.RNNLM(50, 8, 16, 2)
    logits, (h, c) = model(torch.zeros(3, 7, dtype=torch.long))
    assert logits.shape == (21, 50) and h.shape == c.shape == (2, 3, 16)
    for bad in ({"vocab_size": 0}, {"hidden_size": -1}, {"num_layers": 1.5}):
        with pytest.raises(ValueError):
            nb.RNNLM(**({"vocab_size": 50} | bad))


def test_detach_keeps_saved_memory_flat_and_its_absence_grows_it(nb):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 32, 1)
    ids = tiny_ids(cols=30 * 6 + 1)
    flat = nb.measure_tbptt_cost(model, ids, 30, 6, use_detach=True)
    grow = nb.measure_tbptt_cost(model, ids, 30, 6, use_detach=False)
    assert len({round(r["saved_MB"], 6) for r in flat}) == 1 and len({r["nodes"] for r in flat}) == 1
    steps = [b["saved_MB"] - a["saved_MB"] for a, b in itertools.pairwise(grow)]
    assert all(s > 0 for s in steps) and max(steps) - min(steps) < 1e-6  # linear growth
    assert grow[-1]["nodes"] > grow[0]["nodes"]
    assert all(r["grad_to_start"] == 0 for r in flat)  # the detach stops every gradient at the boundary
    assert all(r["grad_to_start"] > 0 for r in grow)  # without it, every window's loss reaches the first state
    assert all(p.grad is None for p in model.parameters())  # a measurement, not a training step


def test_detach_returns_graph_free_tensors_with_the_same_values(nb):
    h = torch.randn(1, 2, 3, requires_grad=True) * 2
    (d,) = nb.detach((h,))
    assert d.grad_fn is None and not d.requires_grad and torch.equal(d, h)


def test_greedy_is_deterministic_and_multinomial_reproducible(nb, full_corpus):
    corpus, _ = full_corpus
    torch.manual_seed(0)
    model = nb.RNNLM(len(corpus.dictionary), 8, 16, 1)
    g1 = nb.sample(model, corpus, 30, strategy="greedy", seed=1)
    g2 = nb.sample(model, corpus, 30, strategy="greedy", seed=1)
    assert g1 == g2 and len(g1) == 30
    m1 = nb.sample(model, corpus, 30, seed=5)
    assert m1 == nb.sample(model, corpus, 30, seed=5) and m1 != nb.sample(model, corpus, 30, seed=6)
    # greedy = argmax of the model at every step
    start = nb.sample(model, corpus, 1, strategy="greedy", start_word="the")[0]
    logits, _ = model(torch.tensor([[corpus.dictionary.word2idx["the"]]]))
    assert start == corpus.dictionary.idx2word[int(logits.argmax())]
    with pytest.raises(ValueError):
        nb.sample(model, corpus, 5, strategy="beam")
    with pytest.raises(KeyError, match="Qwerty"):
        nb.sample(model, corpus, 5, start_word="Qwerty")


def test_words_to_text_and_repetition_stats(nb):
    assert nb.words_to_text(["a", "b", "<eos>", "c"]) == "a b\nc"
    stats = nb.repetition_stats(["x", "y", "z"] * 4)
    assert stats["repeated_ngram_share"] == pytest.approx(7 / 10) and stats["top_ngram_count"] == 4


def test_cosine_distance_properties_and_oov(nb, full_corpus):
    corpus, _ = full_corpus
    torch.manual_seed(0)
    model = nb.RNNLM(len(corpus.dictionary), 8, 16, 1)
    assert nb.cosine_distance(model, corpus, "army", "army") == pytest.approx(0, abs=1e-6)
    d = nb.cosine_distance(model, corpus, "army", "taxpayer")
    assert d == pytest.approx(nb.cosine_distance(model, corpus, "taxpayer", "army")) and 0 <= d <= 2
    with torch.no_grad():
        model.embed.weight[corpus.dictionary.word2idx["bank"]] = -model.embed.weight[corpus.dictionary.word2idx["army"]]
    assert nb.cosine_distance(model, corpus, "army", "bank") == pytest.approx(2, abs=1e-6)
    with torch.no_grad():
        model.embed.weight[corpus.dictionary.word2idx["navy"]] = 3 * model.embed.weight[corpus.dictionary.word2idx["army"]]
    with pytest.raises(KeyError, match="Army"):
        nb.cosine_distance(model, corpus, "Army", "taxpayer")
    neighbours = nb.nearest_neighbours(model, corpus, "army", 3)
    assert len(neighbours) == 3 and neighbours[0][0] == "navy" and neighbours[0][1] == pytest.approx(0, abs=1e-6)
    assert "army" not in [w for w, _ in neighbours]
    dists = nb.random_pair_distances(model, 100, 0)
    assert dists.shape == (100,) and (dists >= -1e-6).all() and (dists <= 2 + 1e-6).all()


def naive_window_loss_without_teacher_forcing(model, ids, start, seq_length, state):
    """Reference: one model call per time step inside autograd, feeding back the argmax."""
    current, losses = ids[:, start], []
    for t in range(seq_length):
        logits, state = model(current[:, None], state)
        losses.append(nn.functional.cross_entropy(logits, ids[:, start + 1 + t]))
        current = logits.argmax(dim=1).detach()
    return torch.stack(losses).mean(), state


def test_fast_no_teacher_forcing_loss_equals_the_naive_port(nb):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 16, 1)
    ids = tiny_ids(cols=61)
    state = nb.init_state(model, 4)
    fast, fast_state = nb.window_loss(model, ids, 30, 30, state, teacher_forcing=False)
    fast.backward()
    fast_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    slow, slow_state = naive_window_loss_without_teacher_forcing(model, ids, 30, 30, state)
    slow.backward()
    torch.testing.assert_close(fast, slow)
    torch.testing.assert_close(fast_state, slow_state)
    for a, p in zip(fast_grads, model.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)
    # and it differs from teacher forcing (the inputs really are the model's own predictions)
    tf, _ = nb.window_loss(model, ids, 30, 30, state, teacher_forcing=True)
    assert not torch.isclose(tf, fast)


def test_train_lm_history_max_steps_validation_and_learning(nb):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 32, 1)
    ids = torch.arange(4 * 301).remainder(7).view(4, 301)  # a periodic, learnable stream
    history = nb.train_lm(model, ids, num_epochs=3, seq_length=30, learning_rate=0.01, valid_ids=ids[:, :121],
                          progress=False)
    assert history["steps"] == 30 == len(history["loss"]) and len(history["valid_ppl"]) == 3
    assert history["loss"][-1] < history["loss"][0] / 4 and history["valid_ppl"][-1] < 4
    short = nb.train_lm(nb.RNNLM(40, 8, 16, 1), ids, num_epochs=3, seq_length=30, learning_rate=0.01,
                        max_steps=7, progress=False)
    assert short["steps"] == 7 == len(short["loss"])
    free = nb.train_lm(nb.RNNLM(40, 8, 16, 1), ids, num_epochs=1, seq_length=30, learning_rate=0.01,
                       teacher_forcing=False, progress=False)
    assert free["steps"] == 10
    for bad in ({"num_epochs": 0}, {"learning_rate": 0.0}, {"clip_norm": -1.0}, {"max_steps": 0},
                {"seq_length": 0}, {"seq_length": 301}):
        with pytest.raises(ValueError):
            nb.train_lm(nb.RNNLM(40, 8, 16, 1), ids, **({"num_epochs": 1, "seq_length": 30, "learning_rate": 0.01} | bad))


def test_train_and_evaluate_reject_ids_the_model_cannot_read(nb):
    model = nb.RNNLM(40, 8, 16, 1)
    good = torch.arange(4 * 61).remainder(40).view(4, 61)
    bad_inputs = [(good + 1, "0, 39"), (good.flatten(), "batch, n"), (good.float(), "LongTensor"), (good - 1, "0, 39")]
    for ids, message in bad_inputs:  # out of the vocabulary, 1-D, float, negative
        with pytest.raises(ValueError, match=message):
            nb.train_lm(model, ids, num_epochs=1, seq_length=30, learning_rate=0.01, progress=False)
        with pytest.raises(ValueError, match=message):
            nb.evaluate_perplexity(model, ids, 30)


def test_evaluate_perplexity_matches_a_manual_computation(nb):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 16, 1)
    ids = tiny_ids(cols=91)
    state, total = nb.init_state(model, 4), 0.0
    with torch.no_grad():
        for start in (0, 30, 60):
            logits, state = model(ids[:, start:start + 30], state)
            total += nn.functional.cross_entropy(logits, ids[:, start + 1:start + 31].reshape(-1), reduction="sum").item()
    assert nb.evaluate_perplexity(model, ids, 30) == pytest.approx(torch.tensor(total / (3 * 4 * 30)).exp().item(), rel=1e-5)
    with pytest.raises(ValueError):
        nb.evaluate_perplexity(model, ids[:, :20], 30)


def test_bf16_autocast_training_runs_and_stays_close(nb):
    ids = tiny_ids(cols=151)
    losses = {}
    for dtype in (None, torch.bfloat16):
        torch.manual_seed(0)
        model = nb.RNNLM(40, 8, 32, 1)
        losses[dtype] = nb.train_lm(model, ids, num_epochs=1, seq_length=30, learning_rate=0.01,
                                    autocast_dtype=dtype, progress=False)["loss"]
    assert abs(losses[None][-1] - losses[torch.bfloat16][-1]) < 0.1


CONFIG = {"vocab_size": 40, "embed_size": 8, "hidden_size": 16, "num_layers": 1, "num_epochs": 1, "seq_length": 30,
          "learning_rate": 0.01, "batch_size": 4, "max_steps": None, "seed": 0, "train_shape": (4, 121),
          "valid_shape": (4, 61), "data_sha256": "x", "teacher_forcing": True, "autocast": "None"}


def test_checkpoint_round_trip_stale_and_corrupt(nb, tmp_path, capsys):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 16, 1)
    path = tmp_path / "ck.pt"
    nb.save_checkpoint(path, model, {"loss": [1.0, 0.5], "valid_ppl": [3.0]}, CONFIG)
    fresh = nb.RNNLM(40, 8, 16, 1)
    assert nb.load_checkpoint(path, fresh, CONFIG) == {"loss": [1.0, 0.5], "valid_ppl": [3.0]}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), fresh.state_dict().values()))
    assert nb.load_checkpoint(path, nb.RNNLM(40, 8, 16, 1), CONFIG | {"learning_rate": 0.02}) is None
    assert "stale" in capsys.readouterr().out
    path.write_bytes(b"garbage")
    assert nb.load_checkpoint(path, nb.RNNLM(40, 8, 16, 1), CONFIG) is None
    assert "unreadable" in capsys.readouterr().out
    assert nb.load_checkpoint(tmp_path / "absent.pt", fresh, CONFIG) is None


def test_train_or_load_trains_once_then_loads(nb, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(nb.globals, "OUTPUT_DIR", tmp_path)
    monkeypatch.setitem(nb.globals, "DEVICE", torch.device("cpu"))
    ids, valid = tiny_ids(cols=121), tiny_ids(cols=61, seed=1)
    first, hist1 = nb.train_or_load_lm("t", CONFIG, ids, valid)
    assert len(list((tmp_path / "checkpoints").glob("t-*.pt"))) == 1
    capsys.readouterr()
    second, hist2 = nb.train_or_load_lm("t", CONFIG, ids, valid)
    assert "Loaded trained weights" in capsys.readouterr().out and hist1 == hist2
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    third, _ = nb.train_or_load_lm("t", CONFIG, ids, valid, retrain=True)
    assert "Loaded" not in capsys.readouterr().out
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), third.state_dict().values()))  # seeded


def test_embedding_shift_measures_the_change_of_one_row(nb, full_corpus):
    corpus, _ = full_corpus
    torch.manual_seed(0)
    initial = nb.RNNLM(len(corpus.dictionary), 8, 16, 1)
    trained = nb.RNNLM(len(corpus.dictionary), 8, 16, 1)
    trained.load_state_dict(initial.state_dict())
    assert nb.embedding_shift(trained, initial, corpus, "army") == (0.0, 0.0)
    row = corpus.dictionary.word2idx["army"]
    with torch.no_grad():
        trained.embed.weight[row] += torch.tensor([3.0, 4.0] + [0.0] * 6)
    change, relative = nb.embedding_shift(trained, initial, corpus, "army")
    assert change == pytest.approx(5.0) and relative == pytest.approx(5.0 / float(initial.embed.weight[row].detach().norm()))
    with pytest.raises(KeyError, match="Army"):
        nb.embedding_shift(trained, initial, corpus, "Army")
