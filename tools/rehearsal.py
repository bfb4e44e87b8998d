"""A full-mode rehearsal of the notebook without AlexNet's weights: a trained stand-in in AlexNet's place.

AlexNet's pretrained weights cannot always be downloaded (not on the project's machines). To see a report in
full mode anyway, this copies the notebook with one cell inserted after `load_alexnet`'s definition, which
redefines it to load the trained MobileNetV2 of tests/data (its weights line says TEST STAND-IN), then
executes the copy with papermill in full mode (A2_SMOKE unset) and the settings given, in a folder of its own.
For tests and for looking at a full-size report before a real run; never for submission.

    .venv/bin/python tools/rehearsal.py outputs/rehearsal -p LM_TRAIN_COLUMNS 301 -p CHECK_CONCLUSIONS False
"""

from __future__ import annotations

import argparse
import ast
import os
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
STAND_IN_WEIGHTS = REPO / "tests" / "data" / "mobilenet_v2_imagenet1k_float.pth"
STAND_IN_CELL = '''#@title REHEARSAL ONLY: a trained MobileNetV2 stands in for AlexNet (tools/rehearsal.py)
def load_alexnet(device: torch.device, allow_random_weights: bool = False, seed: int = 0) -> nn.Sequential:
    """TEST STAND-IN: the trained MobileNetV2 of tests/data in AlexNet's place."""
    net = torchvision.models.mobilenet_v2()
    net.load_state_dict(torch.load("stand-in-mobilenet_v2.pth", weights_only=True))
    model = imagenet_classifier(net)
    model.weights = "TEST STAND-IN: a trained MobileNetV2, not AlexNet"
    model.name = "MobileNetV2"
    return model.to(device)
'''


def stand_in_copy(folder: Path) -> Path:
    """The notebook copied into `folder` with the stand-in cell, beside links to the bundled data."""
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.read(REPO / "assignment2.ipynb", as_version=4)
    index = next(i for i, cell in enumerate(notebook.cells) if "def load_alexnet(" in cell.source)
    cell = nbformat.v4.new_code_cell(STAND_IN_CELL, metadata={"tags": ["remove-input"]})
    notebook.cells.insert(index + 1, cell)
    for data in ("images", "labels", "data"):
        if not (folder / data).exists():
            (folder / data).symlink_to(REPO / data, target_is_directory=True)
    if not (folder / "stand-in-mobilenet_v2.pth").exists():  # beside the notebook: no absolute path printed
        (folder / "stand-in-mobilenet_v2.pth").symlink_to(STAND_IN_WEIGHTS)
    path = folder / "assignment2.ipynb"
    nbformat.write(notebook, path)
    return path


def rehearse(folder: Path, parameters: dict[str, object]) -> Path:
    """Execute the stand-in copy in full mode with these settings; return the executed notebook's path."""
    import papermill
    from run_notebook import KERNEL_CONFIG  # no "Kernel is running over TCP without encryption" warning

    notebook = stand_in_copy(folder)
    executed = folder / "assignment2.rehearsal.ipynb"
    smoke = os.environ.pop("A2_SMOKE", None)  # full mode: the kernel inherits this environment
    try:
        papermill.execute_notebook(str(notebook), str(executed), parameters=parameters, cwd=str(folder),
                                   kernel_name="python3", progress_bar=False,
                                   config=KERNEL_CONFIG)
    finally:
        if smoke is not None:
            os.environ["A2_SMOKE"] = smoke
    return executed


def main() -> None:
    """The command line: a folder, then papermill's `-p NAME VALUE` settings."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    args = parser.parse_args()
    parameters = {}
    for name, value in args.p:
        try:
            parameters[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parameters[name] = value
    print(rehearse(args.folder, parameters))


if __name__ == "__main__":
    main()
