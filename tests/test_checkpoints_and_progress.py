"""Q2's long run: per-epoch checkpoints that resume exactly, stale or damaged ones refused, progress, fp32."""

from __future__ import annotations

import pytest
import torch

CONFIG = {
    "vocab_size": 40,
    "embed_size": 8,
    "hidden_size": 16,
    "num_layers": 1,
    "num_epochs": 3,
    "seq_length": 30,
    "learning_rate": 0.01,
    "clip_norm": 0.5,
    "seed": 0,
    "train_shape": (4, 121),
    "valid_shape": (4, 61),
    "precision": "fp32",
    "teacher_forcing": True,
}


def data() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 40, (4, 121), generator=generator), torch.randint(
        0, 40, (4, 61), generator=generator
    )


CPU = torch.device("cpu")


@pytest.fixture
def scratch(nb, tmp_path, monkeypatch):
    monkeypatch.setitem(nb.globals, "PROJECT_ROOT", tmp_path)  # paths are printed relative to it
    return tmp_path


def train(nb, name: str, config: dict, folder, **kwargs):
    ids, valid = data()
    return nb.train_or_load_lm(name, config, ids, valid, folder, CPU, **kwargs)


def same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def numbers(history: dict) -> tuple:
    return history["loss"], history["valid_ppl"], history["input_counts"]


def test_an_interrupted_run_resumes_at_the_next_epoch_with_the_same_numbers(nb, scratch, monkeypatch, capsys):
    ids, valid = data()
    clean_model, clean = train(nb, "clean", CONFIG, scratch)
    writes = []
    original = nb.globals["write_checkpoint"]

    def interrupted_after_epoch_1(path, checkpoint):
        original(path, checkpoint)
        writes.append(checkpoint["epoch"])
        raise KeyboardInterrupt  # as Ctrl-C, a sleeping laptop or a Colab disconnect would

    monkeypatch.setitem(nb.globals, "write_checkpoint", interrupted_after_epoch_1)
    with pytest.raises(KeyboardInterrupt):
        train(nb, "t", CONFIG, scratch)
    monkeypatch.setitem(nb.globals, "write_checkpoint", original)
    assert writes == [1] and not list(scratch.glob("checkpoints/*.partial"))
    capsys.readouterr()
    model, resumed = train(nb, "t", CONFIG, scratch)
    assert "Resuming t at epoch 2 of 3 (from its checkpoint)" in capsys.readouterr().out
    assert numbers(resumed) == numbers(clean) and same_weights(model, clean_model)
    assert sum(line.startswith("Epoch [") for line in resumed["log"]) == 3


def test_a_checkpoint_missing_a_history_field_is_ignored_and_the_model_trains_again(nb, scratch, capsys):
    ids, valid = data()
    _, clean = train(nb, "t", CONFIG, scratch)
    path = nb.checkpoint_path("t", CONFIG, scratch)
    saved = torch.load(path, weights_only=True)
    del saved["history"]["input_counts"]  # as written by a notebook that did not record it yet
    torch.save(saved, path)
    capsys.readouterr()
    _, again = train(nb, "t", CONFIG, scratch)
    out = capsys.readouterr().out
    assert (
        "Ignoring the checkpoint" in out and "lacks history['input_counts']" in out and "Epoch [3/3]" in out
    )
    assert numbers(again) == numbers(clean)


def ignored_reasons(out: str) -> list[str]:
    """The lines of `out` that say a checkpoint was ignored."""
    return [line for line in out.splitlines() if line.startswith("Ignoring the checkpoint")]


def test_a_checkpoint_of_other_settings_or_an_old_layout_is_never_used(nb, scratch, capsys):
    train(nb, "t", CONFIG, scratch)
    path = nb.checkpoint_path("t", CONFIG, scratch)
    saved = torch.load(path, weights_only=True)
    torch.save({"state_dict": saved["model"], "history": saved["history"]}, path)  # an earlier layout
    capsys.readouterr()
    _, history = train(nb, "t", CONFIG, scratch)
    assert len(ignored_reasons(capsys.readouterr().out)) == 1 and len(history["log"]) == 4  # trained again
    other = CONFIG | {"learning_rate": 0.02}
    collision = nb.checkpoint_path("t", other, scratch)  # as if two settings' hashes collided
    torch.save(torch.load(path, weights_only=True), collision)
    train(nb, "t", other, scratch)
    assert ["settings" in line for line in ignored_reasons(capsys.readouterr().out)] == [True]


def test_a_checkpoint_is_used_only_by_the_code_that_wrote_it(nb, scratch, capsys):
    """The same notebook loads its models; one whose window_loss differs by one statement trains again."""
    import sys

    from notebook_namespace import load_notebook_namespace

    statement = "    logits, state = model(inputs, state)\n"
    module = sys.modules["assignment2"]
    try:
        edited = load_notebook_namespace(edit=lambda source: source.replace(
            statement, statement + "    logits = logits + 0.0\n"))
    finally:
        sys.modules["assignment2"] = module
    assert statement in nb.globals["inspect"].getsource(nb.window_loss)
    _, first = train(nb, "t", CONFIG, scratch)
    capsys.readouterr()
    _, again = train(nb, "t", CONFIG, scratch)  # the same code: loaded
    assert again == first and ignored_reasons(capsys.readouterr().out) == []
    ids, valid = data()
    _, changed = edited["train_or_load_lm"]("t", CONFIG, ids, valid, scratch, CPU)
    reasons = ignored_reasons(capsys.readouterr().out)
    assert len(reasons) == 1 and "code" in reasons[0]
    assert [line.split("]")[0] for line in changed["log"] if line.startswith("Epoch [")] == [
        "Epoch [1/3", "Epoch [2/3", "Epoch [3/3"]  # trained from the start, not resumed
    _, back = train(nb, "t", CONFIG, scratch)  # the original code meets the edited code's checkpoint
    assert len(ignored_reasons(capsys.readouterr().out)) == 1 and numbers(back) == numbers(first)


def test_a_truncated_checkpoint_is_ignored_with_a_message(nb, scratch, capsys):
    ids, valid = data()
    _, clean = train(nb, "t", CONFIG, scratch)
    path = nb.checkpoint_path("t", CONFIG, scratch)
    path.write_bytes(path.read_bytes()[:1000])
    capsys.readouterr()
    _, again = train(nb, "t", CONFIG, scratch)
    assert (
        "Ignoring the unreadable checkpoint checkpoints/" in capsys.readouterr().out
    )  # relative path printed
    assert numbers(again) == numbers(clean)


def test_fp32_never_enters_autocast_even_where_bf16_is_native(nb, scratch, monkeypatch, capsys):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert torch.ops.mkldnn._is_mkldnn_bf16_supported()  # the capability query now says yes
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)

    def no_autocast(*args, **kwargs):
        raise AssertionError("autocast entered in an fp32 run")

    monkeypatch.setattr(torch, "autocast", no_autocast)
    precision = nb.lm_precision(torch.device("cpu"), "fp32")
    assert precision == "fp32" and "fp32, the starter's" in capsys.readouterr().out
    ids, valid = data()
    train(nb, "t", CONFIG | {"precision": precision}, scratch)
    with pytest.raises(ValueError, match="fp32"):
        nb.lm_precision(torch.device("cpu"), "bf16")


def test_progress_is_updated_while_training(nb, monkeypatch):
    shown = []

    class Recorder:
        def __init__(self) -> None:
            self.closed = False

        def update(self, text: str) -> None:
            shown.append(text)

        def close(self) -> None:
            self.closed = True
            shown.append(None)

    monkeypatch.setitem(nb.globals, "LiveLine", Recorder)
    ids, _ = data()
    nb.train_lm(nb.RNNLM(40, 8, 16), ids, CONFIG | {"num_epochs": 2}, name="m", progress=True)
    assert len(shown) == 9 and shown[-1] is None  # every step, then closed
    assert shown[0].startswith("m: epoch 1/2, step 1/8, epoch's loss ") and "s/step" in shown[0]
    assert shown[-2].startswith("m: epoch 2/2, step 8/8") and shown[-2].endswith("0 min left")


def test_the_progress_line_says_model_epoch_step_loss_speed_and_time_left(nb):
    line = nb.progress_line("rnnlm-tf", 2, 5, 2000, 7745, 5.4321, 0.75)
    assert line == "rnnlm-tf: epoch 2/5, step 2,000/7,745, epoch's loss 5.432, 0.75 s/step, 72 min left"


def test_outside_a_notebook_the_progress_line_prints_at_most_once_a_minute(nb, monkeypatch, capsys):
    clock = iter([0.0, 10.0, 59.0, 61.0, 200.0])
    monkeypatch.setattr(nb.globals["time"], "monotonic", lambda: next(clock))
    live = nb.LiveLine()
    for text in ("a", "b", "c", "d"):
        live.update(text)
    live.close()
    assert capsys.readouterr().out.split() == ["a", "d"]


def test_make_run_logs_the_progress_display_at_most_every_30_seconds():
    import run_notebook

    def update(text: str, display_id: str = "p") -> dict:
        return {
            "msg_type": "update_display_data",
            "content": {"data": {"text/plain": text}, "transient": {"display_id": display_id}},
        }

    seen: dict[str, float] = {}
    assert run_notebook.progress_text(update("step 1"), 0.0, seen) == "step 1"
    assert run_notebook.progress_text(update("step 2"), 10.0, seen) is None
    assert run_notebook.progress_text(update("other", "q"), 10.0, seen) == "other"
    assert run_notebook.progress_text(update("step 3"), 31.0, seen) == "step 3"
    assert run_notebook.progress_text(update(""), 100.0, seen) is None  # the blanked line at the end
    assert run_notebook.progress_text({"msg_type": "stream", "content": {}}, 100.0, seen) is None


def test_load_alexnet_lets_our_own_bugs_through_also_in_a_smoke_run(nb, monkeypatch):
    """Only 'weights unavailable' is reported as such: a TypeError in the constructor reaches the caller."""
    import torchvision

    weights_class = torchvision.models.AlexNet_Weights.IMAGENET1K_V1.__class__
    state_dict = torchvision.models.alexnet().state_dict()

    def broken(*args, **kwargs):
        raise TypeError("alexnet() got an unexpected keyword argument")

    def offline(*args, **kwargs):
        raise OSError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(torchvision.models, "alexnet", broken)
    for get_state_dict in (lambda *a, **k: state_dict, offline):  # weights cached, or unavailable
        monkeypatch.setattr(weights_class, "get_state_dict", get_state_dict)
        for allow_random_weights in (False, True):
            if get_state_dict is offline and not allow_random_weights:
                continue  # a full run without weights stops with the weights advice, tested below
            with pytest.raises(TypeError, match="unexpected keyword"):
                nb.load_alexnet(torch.device("cpu"), allow_random_weights=allow_random_weights)


def test_load_alexnet_reports_unavailable_weights_or_falls_back_only_in_a_smoke_run(nb, monkeypatch, capsys):
    import torchvision

    def offline(*args, **kwargs):
        raise OSError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(torchvision.models.AlexNet_Weights.IMAGENET1K_V1.__class__, "get_state_dict", offline)
    with pytest.raises(nb.AlexNetWeightsUnavailableError, match="offline, download"):
        nb.load_alexnet(torch.device("cpu"))
    model = nb.load_alexnet(torch.device("cpu"), allow_random_weights=True)
    assert not model.trained and "RANDOM weights" in capsys.readouterr().out
