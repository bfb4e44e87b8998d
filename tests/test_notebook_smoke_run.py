"""The whole notebook runs top to bottom in smoke mode in a fresh kernel, and prints its answers."""

import os

from conftest import notebook_text


def test_the_smoke_run_has_no_errors_and_says_it_is_a_smoke_run(executed_notebook):
    errors = [o for c in executed_notebook.notebook.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []
    assert "NOT FOR SUBMISSION" in notebook_text(executed_notebook.notebook)


def test_q1a_prints_both_readings_checked_by_autograd(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "Layer 1 (55×55): unit 27: (105, 115, 105, 115), unit 28: (109, 119, 109, 119)" in text
    assert "Layer 2 (27×27): unit 13: (97, 115, 97, 115), unit 14: (105, 123, 105, 123)" in text
    assert "Layer 3 (27×27): unit 13: (81, 131, 81, 131), unit 14: (89, 139, 89, 139)" in text
    assert "interval formula == autograd == hand derivation" in text


def test_q1b_labels_the_untrained_model_and_q1c_saves_six_pngs(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "AlexNet (UNTRAINED" in text and "RANDOM weights" in text
    saved = sorted((executed_notebook.workdir / "outputs" / "adversarial").glob("*__to_*.png"))
    assert len(saved) == 6
    assert "| photo | target | AlexNet says (reloaded PNG) | fooled |" in text and "| α | success |" in text


def test_q2_trains_both_models_samples_and_measures(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    out = executed_notebook.workdir / "outputs"
    assert "vocabulary: 10,000 words; training ids (20, 46479): 1,549 batches per epoch" in text
    assert text.count("Epoch [2/2] step 20/20") == 2
    assert "retain_graph=False: window 2's backward raises RuntimeError: Trying to backward" in text
    assert "retain_graph=True: window 2's backward raises RuntimeError: one of the variables needed" in text
    assert (out / "sample_multinomial.txt").read_text().strip() and (out / "sample_greedy.txt").read_text().strip()
    for name in ("rnnlm-tf", "rnnlm-free"):
        assert len(list((out / "checkpoints").glob(f"{name}-*.pt"))) == 1
    assert "cosine distance(army, taxpayer) = " in text and "| validation perplexity | epoch 1 | epoch 2 |" in text
    assert text.count("✓ ") + text.count("✗ ") == 13  # every conclusion is checked (only reported in smoke mode)


def test_q3_checks_print(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "largest |difference| in 20 random problems: PS(X) - S(PX): " in text
    assert "Z (4, 10, 16) -> H(Z) (4, 10, 16); max |Linear - Conv1d|" in text


def test_a_second_run_loads_the_trained_models_and_prints_their_log(executed_notebook):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(executed_notebook.workdir / "assignment2.ipynb", as_version=4)
    first_log = [line for line in notebook_text(executed_notebook.notebook).splitlines() if line.startswith("Epoch [")]
    stop = next(i for i, c in enumerate(notebook.cells) if "train_or_load_lm(\"rnnlm-tf\"" in c.source) + 1
    notebook.cells = notebook.cells[:stop]
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {
        "path": str(executed_notebook.workdir)}}).execute(env={**os.environ, "A2_SMOKE": "1"})
    second = notebook_text(notebook)
    assert "Loaded rnnlm-tf-" in second and all(line in second for line in first_log[:2])
