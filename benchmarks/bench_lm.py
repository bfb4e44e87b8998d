"""Benchmark Q2's training against plain baselines, side by side, at the starter's full sizes, here.

    PYTHONPATH=tools python benchmarks/bench_lm.py [--steps 200]      # or `make bench` (both benchmarks)

1. Teacher forcing: a plain fp32 reimplementation of the starter's training step (written here,
   independently of the notebook) vs the notebook's `train_lm` in the notebook's precision (`lm_precision`:
   bf16 where the hardware computes it natively and a one-step probe runs, else fp32). Same initial weights
   and data; promised: throughput >= 1.3x with bf16 and >= 0.9x (no overhead) in fp32, and the loss after
   `--steps` steps within 0.05 of the baseline's (mean of the last 20 steps).
2. Without teacher forcing: a naive port (one model call per time step, decoder and its weight
   gradient per step, inside autograd) vs the notebook's `window_loss(..., teacher_forcing=False)`.
   Promised: >= 2x faster. (Equality of the two losses is asserted in the tests on a small model.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
from notebook_namespace import REPO, load_notebook_namespace  # in tools/: PYTHONPATH=tools
from torch import nn

LSTMState = tuple[torch.Tensor, torch.Tensor]  # (h, c)

EMBED, HIDDEN, BATCH, SEQ, LR = 128, 1024, 20, 30, 0.002


class StarterModel(nn.Module):
    """The starter's RNNLM as specified (Embedding -> LSTM -> Linear), for the baseline."""

    def __init__(self, vocab: int) -> None:
        """Layers of the starter's sizes for a vocabulary of `vocab` words."""
        super().__init__()
        self.embed = nn.Embedding(vocab, EMBED)
        self.lstm = nn.LSTM(EMBED, HIDDEN, 1, batch_first=True)
        self.linear = nn.Linear(HIDDEN, vocab)

    def forward(self, x: torch.Tensor, h: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        """Logits (batch * time, vocab) for the ids `x` (batch, time) from state `h`, and the new state."""
        out, h = self.lstm(self.embed(x), h)
        return self.linear(out.reshape(out.size(0) * out.size(1), out.size(2))), h


def baseline_train(model: StarterModel, ids: torch.Tensor, steps: int) -> tuple[list[float], list[float]]:
    """The spec's loop in fp32: detach, forward, CE, zero_grad, backward, clip 0.5, Adam step."""
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    states = (torch.zeros(1, BATCH, HIDDEN), torch.zeros(1, BATCH, HIDDEN))
    losses, times = [], []
    for i in range(0, SEQ * steps, SEQ):
        start = time.perf_counter()
        states = tuple(s.detach() for s in states)
        outputs, states = model(ids[:, i:i + SEQ], states)
        loss = nn.functional.cross_entropy(outputs, ids[:, i + 1:i + 1 + SEQ].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
        times.append(time.perf_counter() - start)
    return losses, times


def naive_no_tf_step(model: StarterModel, opt: torch.optim.Optimizer, ids: torch.Tensor, i: int,
                     states: LSTMState) -> LSTMState:
    """Naive port without teacher forcing: a model call per time step, argmax fed back, loss in autograd."""
    states = tuple(s.detach() for s in states)
    current, losses = ids[:, i], []
    for t in range(SEQ):
        logits, states = model(current[:, None], states)
        losses.append(nn.functional.cross_entropy(logits, ids[:, i + 1 + t]))
        current = logits.argmax(dim=1)
    loss = torch.stack(losses).mean()
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    opt.step()
    return states


def main() -> int:
    """Run both comparisons, print times and ratios; exit 1 if a promised ratio is missed."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--no-tf-steps", type=int, default=4)
    args = parser.parse_args()
    nb = load_notebook_namespace()
    corpus = nb["Corpus"]()
    ids = corpus.get_data(REPO / "data" / "ptb" / "ptb.train.txt", BATCH)
    vocab = len(corpus.dictionary)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, vocab {vocab}, steps {args.steps}")

    sizes = {"vocab_size": vocab, "embed_size": EMBED, "hidden_size": HIDDEN, "num_layers": 1, "seed": 0}

    def fresh_pair() -> tuple[nn.Module, StarterModel]:
        """The notebook's freshly initialised model, and the baseline with the same weights."""
        ours = nb["fresh_lm"](sizes, torch.device("cpu"))
        base = StarterModel(vocab)
        base.load_state_dict(ours.state_dict())
        return ours, base

    precision = nb["lm_precision"](torch.device("cpu"), "auto")
    config = {"num_epochs": 1, "seq_length": SEQ, "learning_rate": LR, "clip_norm": 0.5,
              "teacher_forcing": True, "precision": precision}

    def first_windows(steps: int) -> torch.Tensor:
        """The ids of the first `steps` windows: one epoch of them is `steps` training steps."""
        part = ids[:, : steps * SEQ + 1]
        if len(nb["window_starts"](part, SEQ)) != steps:
            raise RuntimeError(f"{tuple(part.shape)} ids do not hold {steps} windows of {SEQ} tokens")
        return part

    ours, base = fresh_pair()
    base_losses, base_times = baseline_train(base, ids, args.steps)
    start = time.perf_counter()
    history = nb["train_lm"](ours, first_windows(args.steps), config, progress=False)
    seconds = time.perf_counter() - start
    base_step = statistics.median(base_times[5:])
    our_step = seconds / args.steps
    base_step_mean = sum(base_times) / args.steps
    speedup = base_step_mean / our_step
    promised = 1.3 if precision == "bf16" else 0.9
    tail = 20
    loss_gap = abs(statistics.mean(history["loss"][-tail:]) - statistics.mean(base_losses[-tail:]))
    print(f"[teacher forcing] baseline fp32: {base_step_mean:.3f} s/step (median {base_step:.3f}); "
          f"ours ({precision}): {our_step:.3f} s/step -> throughput x{speedup:.2f} (>= {promised:.2f})")
    print(f"[teacher forcing] loss after {args.steps} steps (mean of last {tail}): baseline "
          f"{statistics.mean(base_losses[-tail:]):.4f}, ours {statistics.mean(history['loss'][-tail:]):.4f}, "
          f"gap {loss_gap:.4f} (<= 0.05); last step {base_losses[-1]:.4f} vs {history['loss'][-1]:.4f}")
    full_epochs = 5 * len(nb["window_starts"](ids, SEQ))
    print(f"[teacher forcing] full 5-epoch run on this CPU: baseline "
          f"~{base_step_mean * full_epochs / 60:.0f} min, ours ~{our_step * full_epochs / 60:.0f} min")

    ours, base = fresh_pair()
    opt = torch.optim.Adam(base.parameters(), lr=LR)
    states = (torch.zeros(1, BATCH, HIDDEN), torch.zeros(1, BATCH, HIDDEN))
    states = naive_no_tf_step(base, opt, ids, 0, states)  # warm-up
    start = time.perf_counter()
    for k in range(1, args.no_tf_steps + 1):
        states = naive_no_tf_step(base, opt, ids, k * SEQ, states)
    naive = (time.perf_counter() - start) / args.no_tf_steps
    n_steps = args.no_tf_steps + 1
    start = time.perf_counter()
    nb["train_lm"](ours, first_windows(n_steps), config | {"teacher_forcing": False}, progress=False)
    fast = (time.perf_counter() - start) / n_steps
    print(f"[no teacher forcing] naive port: {naive:.3f} s/step; ours: {fast:.3f} s/step -> "
          f"x{naive / fast:.2f} (>= 2.0); ours vs our teacher-forced step: x{fast / our_step:.2f}; "
          f"full 5 epochs ~{fast * full_epochs / 60:.0f} min")
    ok = speedup >= promised and loss_gap <= 0.05 and naive / fast >= 2.0
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
