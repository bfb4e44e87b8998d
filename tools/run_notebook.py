"""`make run`: papermill's command line, whose terminal log also shows the notebook's live progress line.

While a language model trains, the notebook shows its progress in one line updated in place (a display that it
updates), so that the executed notebook keeps no progress clutter. Papermill logs what a notebook prints
but not such updates; this logs them too, at most one line per display every LOG_EVERY_S seconds, and only
when an update arrives. Same arguments as `papermill`.

No public hook of papermill or nbclient sees these updates (nbclient's on_cell_* hooks run around a cell, and
its output hooks never get `update_display_data`), so this wraps papermill's internal
`PapermillNotebookClient.process_message`. requirements-dev.txt pins the papermill version it was written for,
and tests/test_run_notebook.py runs this tool on a small notebook to check that the progress is still logged.

ipykernel (7.4.0 here) starts with a warning, "Kernel is running over TCP without encryption...",
unless the kernel manager gives it CurveZMQ keys. KERNEL_CONFIG asks jupyter_client for them (its setting
`KernelManager.transport_encryption`, for a kernelspec that declares "curve", as ipykernel's does), so the
kernel talks over encrypted TCP and the warning has no cause; other warnings are untouched. The command line
passes it through papermill's engine registry (EncryptedKernelEngine); tools/rehearsal.py passes it to
`papermill.execute_notebook`, and tests/test_quiet_run.py checks the log.
"""

from __future__ import annotations

import math
import sys
import time

import zmq
from jupyter_client import KernelManager
from papermill.cli import papermill
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from traitlets.config import Config

LOG_EVERY_S = 30.0
_process_message = PapermillNotebookClient.process_message
_last_logged: dict[str, float] = {}
# "auto": keys for a kernel whose kernelspec declares "curve". Left out where jupyter_client predates the
# setting or pyzmq has no CurveZMQ (jupyter_client refuses "auto" there): plain TCP then, and the warning.
ENCRYPTION = "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve")
KERNEL_CONFIG = Config({"KernelManager": {"transport_encryption": "auto"}} if ENCRYPTION else {})


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


class EncryptedKernelEngine(NBClientEngine):
    """Papermill's default engine, its kernel manager configured by KERNEL_CONFIG (encrypted transport)."""

    @classmethod
    def execute_managed_notebook(cls, nb_man: object, kernel_name: str, **kwargs: object) -> object:
        """Papermill's execution, with KERNEL_CONFIG for its notebook client and so its kernel manager."""
        kwargs.setdefault("config", KERNEL_CONFIG)
        return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)


if __name__ == "__main__":
    PapermillNotebookClient.process_message = process_message
    papermill_engines.register(None, EncryptedKernelEngine)  # the engine used when --engine is not given
    sys.exit(papermill())
