"""CUDA's rule for RNNs, emulated on a CPU: an RNN's backward needs a forward in training mode.

cuDNN refuses the backward of an LSTM whose forward ran in eval mode ("cudnn RNN backward can only be
called in training mode"); PyTorch's CPU kernels allow it, so a CPU test would never see the failure a
GPU run meets. Python imports this file at start-up when this folder is on PYTHONPATH: the tests put it
on the notebook kernel's. Every RNN forward that runs in eval mode with gradients enabled gets outputs
whose backward raises the error cuDNN raises.
"""

import torch

MESSAGE = "cudnn RNN backward can only be called in training mode (emulated on the CPU by tests/cuda_rules)"


def refuse_backward(grad: torch.Tensor) -> torch.Tensor:
    """A gradient hook: what cuDNN does when this backward reaches an eval-mode RNN."""
    raise RuntimeError(MESSAGE)


def eval_mode_rnn_hook(module: torch.nn.Module, args: tuple, output: object) -> None:
    """A global forward hook: marks the outputs of an RNN that ran in eval mode with gradients enabled."""
    if isinstance(module, torch.nn.RNNBase) and not module.training and torch.is_grad_enabled():
        out, state = output
        for tensor in (out, *(state if isinstance(state, tuple) else (state,))):
            if tensor.requires_grad:
                tensor.register_hook(refuse_backward)


def install() -> torch.utils.hooks.RemovableHandle:
    """Apply the rule to every module from now on; the handle's remove() lifts it."""
    return torch.nn.modules.module.register_module_forward_hook(eval_mode_rnn_hook)


if __name__ == "sitecustomize":  # imported by Python at start-up, not by a test that imports it by path
    install()
