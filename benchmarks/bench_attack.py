"""Benchmark Q1(c)'s attack step against plain AlexNet forward+backward, side by side, on this machine.

    PYTHONPATH=tools python benchmarks/bench_attack.py      # or `make bench` (both benchmarks)

The ratio the project promises: one attack step (batch of 1) <= 1.2 x one plain forward+backward with frozen
weights (the attack adds only the L1 term, the 8-bit rounding and Adam on r). Also reported, not promised: one
batched step over 6 images against six single-image steps. AlexNet's weights are random here (timing does not
depend on their values).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import torch
import torchvision
from notebook_namespace import load_notebook_namespace  # in tools/: PYTHONPATH=tools

REPEATS = 5


def median_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of fn() over `repeats` runs, after one warm-up run."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    """Run the measurements and print the ratios; exit 1 if a promised ratio is missed."""
    nb = load_notebook_namespace()
    torch.manual_seed(0)
    plain = torchvision.models.alexnet(weights=None).eval().requires_grad_(False)  # baseline: stock layers
    reference = torchvision.models.alexnet(weights=None)
    reference.load_state_dict(plain.state_dict())
    model = nb["imagenet_classifier"](reference, trained=False)  # what the notebook attacks
    x1 = torch.rand(1, 3, 224, 224)
    x6 = torch.rand(6, 3, 224, 224)
    target1, target6 = torch.tensor([7]), torch.arange(6) * 100 + 7

    def plain_forward_backward(x: torch.Tensor, t: torch.Tensor) -> None:
        inp = x.clone().requires_grad_(True)
        torch.nn.functional.cross_entropy(plain(inp), t).backward()

    def with_weight_gradients() -> None:
        plain.requires_grad_(True)
        try:
            plain_forward_backward(x1, target1)
        finally:
            plain.requires_grad_(False)
            plain.zero_grad(set_to_none=True)

    def attack(x: torch.Tensor, t: torch.Tensor, steps: int) -> None:
        """`steps` attack steps that never stop early (an unreachable margin) and never cut α."""
        settings = nb["AttackSettings"](max_steps=steps, margin=float("inf"), patience=10**6)
        nb["make_adversarial"](model, x, t.tolist(), torch.ones(len(x)), settings, 0)

    def per_step(x: torch.Tensor, t: torch.Tensor, short: int = 3, long: int = 13) -> float:
        """Seconds per attack step, setup excluded: (T(long) - T(short)) / (long - short)."""
        long_s = median_seconds(lambda: attack(x, t, long), 3)
        short_s = median_seconds(lambda: attack(x, t, short), 3)
        return (long_s - short_s) / (long - short)

    base1 = median_seconds(lambda: plain_forward_backward(x1, target1), 10)
    base6 = median_seconds(lambda: plain_forward_backward(x6, target6), 5)
    weights1 = median_seconds(with_weight_gradients, 5)
    step1 = per_step(x1, target1)
    step6 = per_step(x6, target6)
    ratio_step = step1 / base1
    ratio_batch = step6 / (6 * step1)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"plain forward+backward, frozen weights, batch 1 : {base1 * 1e3:7.1f} ms")
    print(f"plain forward+backward, weight gradients, batch 1: {weights1 * 1e3:7.1f} ms")
    print(f"plain forward+backward, frozen weights, batch 6 : {base6 * 1e3:7.1f} ms   "
          f"(stock layers: {base6 / (6 * base1):.2f} of six batch-1 passes)")
    print(f"attack step, batch 1                              : {step1 * 1e3:7.1f} ms   "
          f"ratio {ratio_step:.2f} (<= 1.20)")
    print(f"attack step, batch 6                              : {step6 * 1e3:7.1f} ms   "
          f"ratio to 6 single steps {ratio_batch:.2f} (reported)")
    ok = ratio_step <= 1.2
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
