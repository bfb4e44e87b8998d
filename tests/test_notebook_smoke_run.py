"""The whole notebook runs top to bottom in smoke mode in a fresh kernel, and shows its answers."""

from conftest import notebook_text


def test_smoke_run_has_no_errors(executed_notebook):
    errors = [o for c in executed_notebook.notebook.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []


def test_smoke_run_prints_q1a_answers_from_both_routes(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "Layer 1 (literal reading): (105, 115, 105, 115)" in text
    assert "Layer 2 (literal reading): (97, 115, 97, 115)" in text
    assert "Layer 3 (literal reading): (81, 131, 81, 131)" in text
    assert "hand derivation matches both routes" in text
    for depth in range(1, 9):
        assert f"layer {depth}: formula == autograd" in text


def test_smoke_run_checks_q3(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "max |P·S(X) − S(P·X)|" in text
    assert "assert_close passed" in text


def test_smoke_run_draws_figures(executed_notebook):
    images = [o for c in executed_notebook.notebook.cells if c.cell_type == "code"
              for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 1


def test_smoke_run_covers_q1b_and_labels_the_untrained_model(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    assert "AlexNet: UNTRAINED (random weights)" in text or "AlexNet: pretrained IMAGENET1K_V1" in text
    if "UNTRAINED (random weights)" in text:
        assert "RANDOM weights" in text and "UNTRAINED model" in text


def test_smoke_run_saves_and_rechecks_six_adversarial_pngs(executed_notebook):
    saved = sorted((executed_notebook.workdir / "outputs" / "adversarial").glob("*.png"))
    assert len(saved) == 6 and all("__to_" in p.name for p in saved)
    text = notebook_text(executed_notebook.notebook)
    assert "PNGs are classified as their target" in text
    assert "| α | which | success | steps |" in text


def test_smoke_run_covers_all_of_q2(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    out = executed_notebook.workdir / "outputs"
    assert "vocabulary: 10,000 words · training tokens: 929,589" in text and "batches per epoch: 1,549" in text
    assert (out / "sample_multinomial.txt").read_text().strip() and (out / "sample_greedy.txt").read_text().strip()
    assert len(list((out / "checkpoints").glob("rnnlm-tf-*.pt"))) == 1
    assert len(list((out / "checkpoints").glob("rnnlm-free-*.pt"))) == 1
    for marker in ("MB per window", "cosine distance(army, taxpayer)", "Validation perplexity per epoch",
                   "true inputs per epoch without it", "What the number means", "What the truncation gives up", "We conclude that an embedding distance",
                   "mixed precision:"):
        assert marker in text, marker


def test_smoke_run_reports_section_times(executed_notebook):
    text = notebook_text(executed_notebook.notebook)
    for section in ("Q1(a)", "Q1(b)", "Q1(c) attack", "Q2 training (teacher forcing)", "Q2.4 training (no teacher forcing)",
                    "Q3(d)"):
        assert f"[{section}] took" in text, section
