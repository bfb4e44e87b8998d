"""`make run`: papermill's command line, whose terminal log also shows the notebook's live progress line.

While a language model trains, the notebook shows its progress in one line updated in place (a display that it
updates), so that the executed notebook keeps no progress clutter. Papermill logs what a notebook prints
but not such updates; this logs them too, at most one line per display every LOG_EVERY_S seconds, and only
when an update arrives. Same arguments as `papermill`.

No public hook of papermill or nbclient sees these updates (nbclient's on_cell_* hooks run around a cell, and
its output hooks never get `update_display_data`), so this wraps papermill's internal
`PapermillNotebookClient.process_message`. requirements-dev.txt pins the papermill version it was written for,
and tests/test_run_notebook.py runs this tool on a small notebook to check that the progress is still logged.
"""

from __future__ import annotations

import math
import sys
import time

from papermill.cli import papermill
from papermill.clientwrap import PapermillNotebookClient

LOG_EVERY_S = 30.0
_process_message = PapermillNotebookClient.process_message
_last_logged: dict[str, float] = {}


def progress_text(message: dict, now: float, last_logged: dict[str, float]) -> str | None:
    """The text of a display update to log now, or None (not an update, empty, or logged too recently)."""
    if message.get("msg_type") != "update_display_data":
        return None
    content = message.get("content", {})
    text = content.get("data", {}).get("text/plain", "").strip()
    display_id = (content.get("transient") or {}).get("display_id", "")
    if not text or now - last_logged.get(display_id, -math.inf) < LOG_EVERY_S:
        return None
    last_logged[display_id] = now
    return text


def process_message(self: PapermillNotebookClient, message: dict, *args: object, **kwargs: object) -> object:
    """Papermill's message handling, plus a log line for the notebook's progress display."""
    text = progress_text(message, time.monotonic(), _last_logged) if self.log_output else None
    if text is not None:
        self.log.info(text)
    return _process_message(self, message, *args, **kwargs)


if __name__ == "__main__":
    PapermillNotebookClient.process_message = process_message
    sys.exit(papermill())
