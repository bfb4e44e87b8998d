"""Q2: corpus, model, truncated BPTT, sampling, distances, no teacher forcing, the checkpoint cache."""

from __future__ import annotations

import itertools
import types
import weakref

import pytest
import torch
from conftest import CUDA_RULES, REPO
from torch import nn

PTB = REPO / "data" / "ptb"


@pytest.fixture(scope="module")
def corpus_and_ids(nb):
    corpus = nb.Corpus()
    return corpus, corpus.get_data(PTB / "ptb.train.txt", 20)


def training(**settings) -> dict:
    """The training part of a config (train_lm's): the starter's clipping, fp32, teacher forcing."""
    return {"num_epochs": 1, "seq_length": 30, "learning_rate": 0.01, "clip_norm": 0.5,
            "teacher_forcing": True, "precision": "fp32"} | settings


def tiny_ids(batch: int = 4, cols: int = 121, vocab: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, cols), generator=torch.Generator().manual_seed(seed))


def test_the_corpus_matches_the_starter(nb, corpus_and_ids):
    corpus, ids = corpus_and_ids
    assert len(corpus.dictionary) == 10_000 and ids.shape == (20, 929_589 // 20) and ids.dtype == torch.long
    assert len(nb.window_starts(ids, 30)) == 1549 and corpus.dictionary.idx2word[0] == "aer"
    words = (PTB / "ptb.train.txt").read_text().split("\n")[0].split()
    assert [corpus.dictionary.idx2word[i] for i in ids[0, : len(words) + 1].tolist()] == words + ["<eos>"]


def test_validation_uses_the_training_dictionary_and_names_an_unknown_word(nb, corpus_and_ids, tmp_path):
    corpus, _ = corpus_and_ids
    valid = corpus.get_data(PTB / "ptb.valid.txt", 20, extend_vocab=False)
    assert valid.numel() == 73_760 // 20 * 20 and len(corpus.dictionary) == 10_000
    (tmp_path / "odd.txt").write_text("the company said\nthe zyzzyva said\n")
    with pytest.raises(KeyError, match="line 2: 'zyzzyva'"):
        corpus.get_data(tmp_path / "odd.txt", 2, extend_vocab=False)


def test_model_shapes(nb):
    model = nb.RNNLM(50, 8, 16, 2)
    logits, (h, c) = model(torch.zeros(3, 7, dtype=torch.long), nb.init_state(model, 3))
    assert logits.shape == (21, 50) and h.shape == c.shape == (2, 3, 16)


def test_detach_keeps_the_graph_flat_and_its_absence_grows_it_linearly(nb):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 32)
    ids = tiny_ids(cols=30 * 6 + 1)
    flat = nb.measure_tbptt(model, ids, 30, 6, use_detach=True)
    grow = nb.measure_tbptt(model, ids, 30, 6, use_detach=False)
    assert len({(cost.nodes, cost.saved_mib) for cost in flat}) == 1
    steps = [b.saved_mib - a.saved_mib for a, b in itertools.pairwise(grow)]
    assert all(s > 0 for s in steps) and max(steps) - min(steps) < 1e-6 and grow[-1].nodes > grow[0].nodes
    assert all(cost.gpu_mib is None for cost in flat + grow)  # measured on CUDA only
    assert all(p.grad is None for p in model.parameters())  # a measurement, not a training step


@pytest.fixture
def cuda_rule():
    """The cuDNN RNN rule (tests/cuda_rules) applied in this process for one test."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("cuda_rules", CUDA_RULES / "sitecustomize.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handle = module.install()
    yield types.SimpleNamespace(message=module.MESSAGE, lift=handle.remove)
    handle.remove()


def test_the_emulated_cudnn_rule_refuses_a_backward_after_an_eval_mode_forward(nb, cuda_rule):
    model = nb.RNNLM(40, 8, 16).eval()
    loss, _, _ = nb.window_loss(model, tiny_ids(cols=31), 0, 30, nb.init_state(model, 4), True)
    with pytest.raises(RuntimeError) as refused:
        loss.backward()
    assert str(refused.value) == cuda_rule.message


@pytest.mark.parametrize("training", [False, True])
def test_measure_tbptt_obeys_cudnns_rule_leaves_the_mode_it_found_and_gives_the_same_figures(
        nb, cuda_rule, training):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 32).train(training)
    ids = tiny_ids(cols=30 * 4 + 1)
    costs = {use_detach: nb.measure_tbptt(model, ids, 30, 4, use_detach) for use_detach in (True, False)}
    assert model.training is training and all(module.training is training for module in model.modules())
    cuda_rule.lift()  # the rule off: the figures a CPU gave before the mode was handled
    saved = {}
    for use_detach in (True, False):
        window_ids = ids[:, :30 * 4 + 1].contiguous()  # as measure_tbptt: a compact copy of what is read,
        excluded = {p.untyped_storage().data_ptr() for p in model.parameters()}  # and it, like the weights,
        excluded.add(window_ids.untyped_storage().data_ptr())  # is not counted
        log = weakref.WeakSet()
        state = nb.init_state(model, 4)
        figures = []
        for start in nb.window_starts(window_ids, 30)[:4]:
            state = nb.detach(state) if use_detach else state
            with nb.saved_tensor_log(log):
                loss, state, _ = nb.window_loss(model, window_ids, start, 30, state, True)
            figures.append(nb.graph_size(loss, log, excluded))
            loss.backward(retain_graph=not use_detach)
        model.zero_grad(set_to_none=True)
        saved[use_detach] = figures
    for use_detach in (True, False):
        assert [(cost.nodes, cost.saved_mib) for cost in costs[use_detach]] == saved[use_detach]


def test_a_full_stream_and_a_compact_copy_of_the_columns_its_windows_read_give_the_same_figures(nb):
    """The token stream is no activation: however long it is, a window's figures are those of its graph."""
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 32)
    full = tiny_ids(cols=30 * 40 + 1)
    compact = full[:, :30 * 4 + 1].clone()
    for use_detach in (True, False):
        figures = [[(cost.nodes, cost.saved_mib) for cost in nb.measure_tbptt(model, ids, 30, 4, use_detach)]
                   for ids in (full, compact)]
        assert figures[0] == figures[1] and len(figures[0]) == 4 and figures[0][0][1] > 0


def test_measure_tbptt_moves_only_the_columns_its_windows_read_and_only_once(nb, monkeypatch):
    """Every window reads one compact (batch, windows·T + 1) copy of the stream, made before the first."""
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 32)
    full = tiny_ids(cols=30 * 40 + 1)
    window_loss = nb.window_loss
    for use_detach in (True, False):
        read = []

        def recording(model, ids, *args, read=read):
            read.append(ids)
            return window_loss(model, ids, *args)

        monkeypatch.setitem(nb.globals, "window_loss", recording)
        nb.measure_tbptt(model, full, 30, 4, use_detach)
        assert len(read) == 4 and all(ids is read[0] for ids in read)
        assert len({ids.data_ptr() for ids in read}) == 1 and read[0].data_ptr() != full.data_ptr()
        assert read[0].shape == (4, 4 * 30 + 1) and read[0].is_contiguous()
        assert torch.equal(read[0], full[:, :4 * 30 + 1])


F32, I64 = 4, 8  # bytes of a float32, of an int64


def saved_by_one_window(nb, model: nn.Module, ids: torch.Tensor, seq_length: int) -> list[tuple]:
    """(shape, dtype, storage address, storage bytes) of each tensor that window 1's forward saves."""
    saved = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        saved.append((tuple(tensor.shape), tensor.dtype, storage.data_ptr(), storage.nbytes()))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        nb.window_loss(model, ids, 0, seq_length, nb.init_state(model, ids.size(0)), True)
    return saved


def hand_count(nb, vocab: int, embed: int, hidden: int, batch: int, seq_length: int,
               windows: int = 3) -> dict:
    """Window 1's saved activations by hand (bytes), the figures measure_tbptt gives, and what the hooks saw.

    The hand count (fp32 model on the CPU, teacher forcing, B = batch, T = seq_length, V, E, H):

    * cross-entropy = log-softmax, then NLL. The log-softmax output (B·T, V) fp32 is saved by
      LogSoftmaxBackward (its result) and by NllLossBackward (its input): one storage, counted once: B·T·V·4
      bytes. NLL also saves its target (B·T,) int64, a copy (the shifted ids are a strided slice, which
      reshape copies): B·T·8, and its total_weight, a 0-d fp32: 4 bytes.
    * Linear (addmm) saves its input, the LSTM output reshaped to (B·T, H) fp32: a copy, since the batch-first
      output is a transposed view of the time-major one: B·T·H·4 (and its weight: excluded).
    * The CPU LSTM (oneDNN's, MkldnnRnnLayerBackward) saves its time-major input (T, B, E) fp32, a copy of
      the embedding output: T·B·E·4; its output (T, B, H): T·B·H·4; h0, c0 and its final h, c, (B, H) each:
      4·B·H·4; its four weights (excluded); and a uint8 workspace (the gates and states of every step, laid
      out and padded by oneDNN). That workspace's size is not derived here: it is read from the hooks.
    * Embedding saves only its indices: a view of the ids, whose storage is excluded (the embedding's own
      output is not saved; the LSTM's time-major copy of it is).

    Without detach, window k's graph holds window k-1's LSTM (through the state): each window adds the LSTM's
    saved tensors (input, output, h0, c0, h, c, workspace); the earlier window's head (linear input,
    log-softmax, target, total_weight) is freed with its loss.
    """
    torch.manual_seed(0)
    model = nb.RNNLM(vocab, embed, hidden)
    ids = tiny_ids(batch=batch, cols=seq_length * windows + 1, vocab=vocab)
    window_ids = ids[:, :seq_length + 1].contiguous()  # what measure_tbptt reads for one window
    saved = saved_by_one_window(nb, model, window_ids, seq_length)
    workspace = [size for shape, dtype, _, size in saved if dtype == torch.uint8]
    if len(workspace) != 1:
        pytest.skip(f"this CPU's LSTM is not oneDNN's (no single uint8 workspace saved: {saved})")
    b, t, v, e, h = batch, seq_length, vocab, embed, hidden
    lstm = {
        "LSTM input, time-major copy of the embedding output (T, B, E) fp32": t * b * e * F32,
        "LSTM output (T, B, H) fp32": t * b * h * F32,
        "LSTM h0 (B, H) fp32": b * h * F32,
        "LSTM c0 (B, H) fp32": b * h * F32,
        "LSTM final h (B, H) fp32": b * h * F32,
        "LSTM final c (B, H) fp32": b * h * F32,
        "LSTM workspace, oneDNN's uint8 (size from the hooks)": workspace[0],
    }
    head = {
        "log-softmax output (B·T, V) fp32 (log_softmax and nll_loss: one storage)": b * t * v * F32,
        "NLL target (B·T,) int64": b * t * I64,
        "NLL total_weight () fp32": F32,
        "linear input, the LSTM output reshaped (B·T, H) fp32": b * t * h * F32,
    }
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    activations = {ptr: size for _, _, ptr, size in saved
                   if ptr not in weights and ptr != window_ids.untyped_storage().data_ptr()}
    with_detach = nb.measure_tbptt(model, ids, seq_length, windows, use_detach=True)
    without = nb.measure_tbptt(model, ids, seq_length, windows, use_detach=False)
    return {"lstm": lstm, "head": head, "saved": saved, "activations": activations, "without": without,
            "ids_bytes": window_ids.untyped_storage().nbytes(), "with_detach": with_detach}


def print_hand_count(count: dict, sizes: str) -> None:
    """The breakdown, in MiB (pytest -s shows it)."""
    print(f"\nWindow 1's saved activations, {sizes}:")
    for name, size in (count["head"] | count["lstm"]).items():
        print(f"  {size:>10,} bytes {size / 2**20:9.4f} MiB  {name}")
    total = sum(count["head"].values()) + sum(count["lstm"].values())
    print(f"  {total:>10,} bytes {total / 2**20:9.4f} MiB  total; measure_tbptt: "
          f"{count['with_detach'][0].saved_mib:.4f} MiB "
          f"(ids storage, {count['ids_bytes']} bytes, excluded)")
    print("  without detach:", ", ".join(f"{cost.saved_mib:.4f}" for cost in count["without"]),
          f"MiB; each window adds {sum(count['lstm'].values()) / 2**20:.4f} MiB (the LSTM's)")


def test_a_windows_saved_mib_is_the_sum_of_its_saved_activations_and_holds_no_token_stream(nb):
    """RNNLM(40, 8, 32), batch 4, T = 30: the hand count of hand_count's docstring, to the byte."""
    count = hand_count(nb, 40, 8, 32, 4, 30)
    print_hand_count(count, "RNNLM(40, 8, 32), batch 4, seq 30")
    hand = count["head"] | count["lstm"]
    assert sorted(count["activations"].values()) == sorted(hand.values())  # what the hooks saw, one by one
    total = sum(hand.values())
    first = count["with_detach"][0]
    assert first.saved_mib * 2**20 == total  # exactly: the activations, no weights
    indices = [size for shape, dtype, _, size in count["saved"] if dtype == torch.int64 and shape == (4, 30)]
    assert indices == [count["ids_bytes"]]  # the embedding's indices: a view of the ids storage, not counted
    assert all(cost.saved_mib == first.saved_mib for cost in count["with_detach"])
    growth = [b.saved_mib - a.saved_mib for a, b in itertools.pairwise(count["without"])]
    assert count["without"][0].saved_mib == first.saved_mib
    assert all(step * 2**20 == pytest.approx(sum(count["lstm"].values()), abs=1e-6) for step in growth)


def test_a_backward_is_timed_after_cuda_has_finished_it(nb, monkeypatch):
    """On CUDA a backward is queued, not done: the clock is read only after torch.cuda.synchronize."""
    events = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: events.append(f"sync {device}"))
    clock = nb.globals["time"].perf_counter
    monkeypatch.setattr(nb.globals["time"], "perf_counter", lambda: events.append("clock") or clock())
    x = torch.ones(3, requires_grad=True)
    x.register_hook(lambda grad: events.append("backward"))
    milliseconds = nb.timed_backward((2 * x).sum(), torch.device("cuda", 0), retain_graph=False)
    assert events == ["sync cuda:0", "clock", "backward", "sync cuda:0", "clock"] and milliseconds >= 0
    events.clear()
    nb.timed_backward((2 * x).sum(), torch.device("cpu"), retain_graph=False)
    assert events == ["clock", "backward", "clock"]  # nothing to wait for on the CPU


def test_greedy_takes_the_argmax_and_sampling_is_reproducible(nb, corpus_and_ids):
    corpus, _ = corpus_and_ids
    torch.manual_seed(0)
    model = nb.RNNLM(len(corpus.dictionary), 8, 16)
    assert nb.sample(model, corpus, 30, "greedy", seed=1) == nb.sample(model, corpus, 30, "greedy", seed=1)
    m1 = nb.sample(model, corpus, 30, seed=5)
    assert (
        len(m1) == 30
        and m1 == nb.sample(model, corpus, 30, seed=5)
        and m1 != nb.sample(model, corpus, 30, seed=6)
    )
    first = nb.sample(model, corpus, 1, "greedy", start_word="the")[0]
    logits, _ = model(torch.tensor([[corpus.dictionary.word2idx["the"]]]), nb.init_state(model, 1))
    assert first == corpus.dictionary.idx2word[int(logits.argmax())]
    with pytest.raises(ValueError, match="beam"):
        nb.sample(model, corpus, 5, "beam")
    with pytest.raises(KeyError, match="Qwerty"):
        nb.sample(model, corpus, 5, start_word="Qwerty")


def test_cosine_distance_and_random_pairs(nb, corpus_and_ids):
    corpus, _ = corpus_and_ids
    torch.manual_seed(0)
    model = nb.RNNLM(len(corpus.dictionary), 8, 16)
    row = corpus.dictionary.word2idx
    with torch.no_grad():
        model.embed.weight[row["bank"]] = -model.embed.weight[row["army"]]
        model.embed.weight[row["navy"]] = 3 * model.embed.weight[row["army"]]
    assert nb.cosine_distance(model, corpus, "army", "navy") == pytest.approx(0, abs=1e-6)
    assert nb.cosine_distance(model, corpus, "army", "bank") == pytest.approx(2, abs=1e-6)
    d = nb.cosine_distance(model, corpus, "army", "taxpayer")
    assert d == pytest.approx(nb.cosine_distance(model, corpus, "taxpayer", "army"))
    with pytest.raises(KeyError, match="Army"):
        nb.cosine_distance(model, corpus, "Army", "taxpayer")
    distances = nb.random_pair_distances(model, 5000, 0)
    assert abs(float(distances.mean()) - 1) < 0.02 and abs(float(distances.std()) - 8**-0.5) < 0.03


def naive_window_loss_without_teacher_forcing(model, ids, start, seq_length, state):
    """Reference: one model call per time step inside autograd, feeding back the argmax."""
    current, losses = ids[:, start], []
    for t in range(seq_length):
        logits, state = model(current[:, None], state)
        losses.append(nn.functional.cross_entropy(logits, ids[:, start + 1 + t]))
        current = logits.argmax(dim=1).detach()
    return torch.stack(losses).mean(), state


def test_the_fast_loss_without_teacher_forcing_equals_the_step_by_step_rollout(nb):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 16)
    ids, state = tiny_ids(cols=61), nb.init_state(model, 4)
    fast, fast_state, inputs = nb.window_loss(model, ids, 30, 30, state, teacher_forcing=False)
    fast.backward()
    fast_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    slow, slow_state = naive_window_loss_without_teacher_forcing(model, ids, 30, 30, state)
    slow.backward()
    torch.testing.assert_close(fast, slow)
    torch.testing.assert_close(fast_state, slow_state)
    assert inputs[:, 0].tolist() == ids[:, 30].tolist() and not torch.equal(inputs, ids[:, 30:60])
    for a, p in zip(fast_grads, model.parameters()):
        torch.testing.assert_close(a, p.grad, rtol=1e-4, atol=1e-6)
    forced, _, forced_inputs = nb.window_loss(model, ids, 30, 30, state, teacher_forcing=True)
    assert not torch.isclose(forced, fast) and torch.equal(forced_inputs, ids[:, 30:60])


def test_train_lm_learns_and_logs_every_epoch(nb):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 32)
    ids = torch.arange(4 * 301).remainder(7).view(4, 301)  # a periodic, learnable stream
    history = nb.train_lm(model, ids, training(num_epochs=3), valid_ids=ids[:, :121], progress=False)
    assert len(history["loss"]) == 30 and len(history["valid_ppl"]) == 3
    assert history["loss"][-1] < history["loss"][0] / 4 and history["valid_ppl"][-1] < 4
    epochs = [line for line in history["log"] if line.startswith("Epoch [")]
    assert [line.split("]")[0] for line in epochs] == ["Epoch [1/3", "Epoch [2/3", "Epoch [3/3"]
    free = nb.train_lm(nb.RNNLM(40, 8, 16), ids, training(teacher_forcing=False), progress=False)
    assert len(free["loss"]) == 10 and free["valid_ppl"] == []


def test_input_counts_are_every_input_the_model_embedded(nb):
    """With teacher forcing, the true windows; without, the window starts plus the fed-back predictions."""
    ids = torch.arange(4 * 121).remainder(7).view(4, 121)
    forced = nb.train_lm(nb.RNNLM(40, 8, 16), ids, training(num_epochs=2), progress=False)
    assert forced["input_counts"] == (2 * torch.bincount(ids[:, :120].flatten(), minlength=40)).tolist()
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 16)
    free = nb.train_lm(model, ids, training(learning_rate=0.0, teacher_forcing=False), progress=False)
    # lr 0: the model stays as it is, so its predictions can be replayed
    expected, state = torch.zeros(40, dtype=torch.long), nb.init_state(model, 4)
    with torch.no_grad():
        for start in nb.window_starts(ids, 30):
            inputs = nb.free_running_inputs(model, ids[:, start], state, 30)
            _, state = model(inputs, state)
            expected += torch.bincount(inputs.flatten(), minlength=40)
    assert free["input_counts"] == expected.tolist() and sum(free["input_counts"]) == 4 * 4 * 30
    assert free["input_counts"] != forced["input_counts"][:40] and max(free["input_counts"][7:]) > 0


def test_ids_the_model_cannot_read_are_refused_with_a_reason(nb):
    model = nb.RNNLM(40, 8, 16)
    good = torch.arange(4 * 61).remainder(40).view(4, 61)
    for ids in (good + 1, good - 1, good.flatten(), good.float(), good[:, :30]):
        with pytest.raises(ValueError, match="vocab_size=40"):
            nb.train_lm(model, ids, training(), progress=False)
        with pytest.raises(ValueError, match="vocab_size=40"):
            nb.evaluate_perplexity(model, ids, 30)


def test_evaluate_perplexity_matches_a_manual_computation(nb):
    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 16)
    ids, total = tiny_ids(cols=91), 0.0
    state = nb.init_state(model, 4)
    with torch.no_grad():
        for start in (0, 30, 60):
            logits, state = model(ids[:, start : start + 30], state)
            total += nn.functional.cross_entropy(
                logits, ids[:, start + 1 : start + 31].reshape(-1), reduction="sum"
            )
    expected = torch.exp(total / (3 * 4 * 30)).item()
    assert nb.evaluate_perplexity(model, ids, 30) == pytest.approx(expected, rel=1e-5)


def test_bf16_autocast_trains_close_to_fp32_where_the_rule_chooses_it(nb, capsys):
    if nb.lm_precision(torch.device("cpu")) != "bf16":  # no native bf16, or its probe failed: fp32
        pytest.skip(f"bf16 is not chosen on this machine: {capsys.readouterr().out.strip()}")
    losses = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        model = nb.RNNLM(40, 8, 32)
        losses[precision] = nb.train_lm(model, tiny_ids(cols=151), training(precision=precision),
                                        progress=False)["loss"]
    assert abs(losses["fp32"][-1] - losses["bf16"][-1]) < 0.1


CONFIG = {
    "vocab_size": 40,
    "embed_size": 8,
    "hidden_size": 16,
    "num_layers": 1,
    "num_epochs": 2,
    "seq_length": 30,
    "learning_rate": 0.01,
    "clip_norm": 0.5,
    "seed": 0,
    "train_shape": (4, 121),
    "valid_shape": (4, 61),
    "precision": "fp32",
    "teacher_forcing": True,
}


def test_train_or_load_trains_once_then_loads_and_prints_the_same_log(nb, tmp_path, capsys):
    cpu = torch.device("cpu")
    ids, valid = tiny_ids(cols=121), tiny_ids(cols=61, seed=1)
    first, history = nb.train_or_load_lm("t", CONFIG, ids, valid, tmp_path, cpu)
    trained_log = capsys.readouterr().out
    assert len(list((tmp_path / "checkpoints").glob("t-*.pt"))) == 1 and "Epoch [2/2]" in trained_log
    second, loaded = nb.train_or_load_lm("t", CONFIG, ids, valid, tmp_path, cpu)
    assert "\n".join(history["log"]) in capsys.readouterr().out and loaded == history
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    retrained, _ = nb.train_or_load_lm("t", CONFIG, ids, valid, tmp_path, cpu, retrain=True)  # seeded
    assert all(
        torch.equal(a, b) for a, b in zip(first.state_dict().values(), retrained.state_dict().values())
    )
    nb.train_or_load_lm("t", CONFIG | {"learning_rate": 0.02}, ids, valid, tmp_path, cpu)  # trains again
    assert len(list((tmp_path / "checkpoints").glob("t-*.pt"))) == 2
    next((tmp_path / "checkpoints").glob("t-*.pt")).write_bytes(b"garbage")
    capsys.readouterr()
    nb.train_or_load_lm("t", CONFIG, ids, valid, tmp_path, cpu)
    nb.train_or_load_lm("t", CONFIG | {"learning_rate": 0.02}, ids, valid, tmp_path, cpu)
    assert len(list((tmp_path / "checkpoints").glob("t-*.pt"))) == 2  # the damaged one written again
    saved = (tmp_path / "checkpoints").glob("t-*.pt")
    assert all(torch.load(path, weights_only=True)["epoch"] == 2 for path in saved)


# The precision rule: bf16 only where native and a one-step probe of the real training path succeeds.
def native_cpu(answer: bool) -> types.SimpleNamespace:
    """A stand-in for torch.ops whose oneDNN says `answer` to 'is bf16 native?'."""
    return types.SimpleNamespace(mkldnn=types.SimpleNamespace(_is_mkldnn_bf16_supported=lambda: answer))


def test_precision_is_fp32_when_the_private_onednn_operator_is_missing(nb, monkeypatch, capsys):
    monkeypatch.setattr(torch, "ops", types.SimpleNamespace())  # a torch built without oneDNN
    assert nb.lm_precision(torch.device("cpu")) == "fp32"
    assert "fp32 (bf16 failed here: AttributeError" in capsys.readouterr().out


def test_precision_is_fp32_when_the_bf16_probe_raises(nb, monkeypatch, capsys):
    monkeypatch.setattr(torch, "ops", native_cpu(True))
    seen = []

    def failing_train_lm(model, ids, config, **kwargs):
        seen.append(config["precision"])
        raise RuntimeError("could not create a primitive descriptor for the LSTM forward\nmore detail")

    monkeypatch.setitem(nb.globals, "train_lm", failing_train_lm)
    state = torch.random.get_rng_state()
    assert nb.lm_precision(torch.device("cpu")) == "fp32" and seen == ["bf16"]
    assert capsys.readouterr().out.strip() == (
        "Language-model precision: fp32 (bf16 failed here: RuntimeError: "
        "could not create a primitive descriptor for the LSTM forward)."
    )
    assert torch.equal(state, torch.random.get_rng_state())  # the probe leaves the random state as it was


def test_precision_is_fp32_when_the_probe_loss_is_not_finite(nb, monkeypatch):
    monkeypatch.setattr(torch, "ops", native_cpu(True))
    monkeypatch.setitem(nb.globals, "train_lm", lambda *a, **k: {"loss": [float("nan")]})
    assert nb.lm_precision(torch.device("cpu")) == "fp32"


def test_precision_is_bf16_when_native_and_the_probe_passes(nb, monkeypatch, capsys):
    monkeypatch.setattr(torch, "ops", native_cpu(True))
    calls = []
    monkeypatch.setitem(
        nb.globals, "train_lm",
        lambda model, ids, config, **k: calls.append((model, ids, config)) or {"loss": [3.9]}
    )
    assert nb.lm_precision(torch.device("cpu")) == "bf16"
    model, ids, config = calls[0]
    assert (
        isinstance(model, nb.RNNLM)
        and config["precision"] == "bf16"
        and config["num_epochs"] == 1
    )
    assert len(nb.window_starts(ids, config["seq_length"])) == 1  # one real training step
    assert "bf16 autocast" in capsys.readouterr().out


def test_precision_is_fp32_without_native_bf16_and_the_probe_is_not_run(nb, monkeypatch, capsys):
    monkeypatch.setattr(torch, "ops", native_cpu(False))
    monkeypatch.setitem(nb.globals, "train_lm", lambda *a, **k: pytest.fail("the probe must not run"))
    assert nb.lm_precision(torch.device("cpu")) == "fp32"
    assert "has no native bf16" in capsys.readouterr().out


def test_on_cuda_native_bf16_is_asked_without_emulation(nb, monkeypatch):
    asked = []
    monkeypatch.setattr(
        torch.cuda,
        "is_bf16_supported",
        lambda including_emulation=True: asked.append(including_emulation) or False,
    )
    assert nb.lm_precision(torch.device("cuda")) == "fp32" and asked == [False]


def graph_size_by_private_attributes(loss: torch.Tensor, exclude: set[int]) -> tuple[int, float]:
    """The earlier implementation, kept as the reference: `_saved_*` attributes of every reachable node."""
    nodes, saved, stack = set(), {}, [loss.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in nodes:
            continue
        nodes.add(node)
        for name in dir(node):
            if name.startswith("_saved_") and isinstance(t := getattr(node, name), torch.Tensor):
                saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        stack += [child for child, _ in node.next_functions]
    return len(nodes), sum(size for ptr, size in saved.items() if ptr not in exclude) / 2**20


def test_graph_size_through_saved_tensor_hooks_gives_the_earlier_figures(nb):
    """The public hooks measure what the private attributes did, window by window, with and without detach."""
    import weakref

    torch.manual_seed(0)
    model = nb.RNNLM(40, 8, 32)
    ids = tiny_ids(cols=30 * 4 + 1)
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    for use_detach in (True, False):
        saved = weakref.WeakSet()
        state = nb.init_state(model, 4)
        for start in (0, 30, 60):
            state = nb.detach(state) if use_detach else state
            with nb.saved_tensor_log(saved):
                loss, state, _ = nb.window_loss(model, ids, start, 30, state, True)
            reference = graph_size_by_private_attributes(loss, weights)
            assert nb.graph_size(loss, saved, weights) == pytest.approx(reference, abs=1e-9)
            assert reference[1] > 0
            loss.backward(retain_graph=not use_detach)


# The loop rule of Q2.2: a cycle repeated 3 times or more, over 8 tokens or more, at the end of a sample.
def test_a_greedy_sample_stuck_on_one_word_is_a_loop_of_period_one(nb):
    assert nb.repeating_tail(["the"] + ["<unk>"] * 49) == (1, 1)


def test_a_text_ending_in_two_equal_tokens_is_no_loop(nb):
    assert nb.repeating_tail([f"w{i}" for i in range(48)] + ["N", "N"]) == (50, 0)


def test_a_three_token_cycle_over_the_last_third_is_a_loop_of_period_three_from_where_it_starts(nb):
    cycle = (["a", "b", "c"] * 6)[:16]  # 5 repeats and one token more: 16 tokens
    words = [f"w{i}" for i in range(34)] + cycle
    assert len(words) == 50 and nb.repeating_tail(words) == (34, 3)


def test_a_cycle_too_short_or_repeated_too_few_times_is_no_loop(nb):
    assert nb.repeating_tail([f"w{i}" for i in range(47)] + ["x"] * 3) == (50, 0)  # 3 repeats, 3 < 8 tokens
    assert nb.repeating_tail([f"w{i}" for i in range(42)] + ["a", "b", "c", "d"] * 2) == (50, 0)  # 2 repeats
    assert nb.repeating_tail([f"w{i}" for i in range(42)] + ["x"] * 8) == (42, 1)  # 8 repeats over 8 tokens
