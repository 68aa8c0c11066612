"""The progress line itself (progress.py), with updates from several threads as uploads finish on the transfer pool;
the commands' output on a terminal and in a log is tested with them (test_collectstatic.py, test_commands.py)."""

from __future__ import annotations

import io
import threading
import time

from django.core.management.base import OutputWrapper

from django_minio_backend.progress import ProgressLine
from tests.helpers import PseudoTerminal

THREADS = 8
ROUNDS = 20


def update_together(progress: ProgressLine) -> int:
    """Each of THREADS threads calls update() once, all released at the same moment, ROUNDS times; how often the
    line was drawn. A draw holds the line's lock a moment, so the other threads queue behind it."""
    drawn = 0
    count = threading.Lock()
    start = threading.Barrier(THREADS)

    def render() -> str:
        nonlocal drawn
        with count:
            drawn += 1
        time.sleep(0.001)
        return f"{drawn} drawn"

    def worker() -> None:
        for _ in range(ROUNDS):
            start.wait()
            progress.update(render)

    workers = [threading.Thread(target=worker) for _ in range(THREADS)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(30)
    return drawn


def test_with_no_interval_every_update_from_any_thread_is_drawn_in_a_log() -> None:
    out = io.StringIO()
    progress = ProgressLine(OutputWrapper(out), 1, log_interval=0.0)
    assert not progress.on_terminal
    assert update_together(progress) == THREADS * ROUNDS
    assert len(out.getvalue().splitlines()) == THREADS * ROUNDS


def test_with_no_interval_every_update_from_any_thread_is_drawn_on_a_terminal() -> None:
    with PseudoTerminal() as terminal:
        progress = ProgressLine(OutputWrapper(terminal.stream), 1, terminal_interval=0.0)
        assert progress.on_terminal
        assert update_together(progress) == THREADS * ROUNDS
        progress.finish()
    assert terminal.output.count("\r\x1b[K") == THREADS * ROUNDS and terminal.output.endswith("\n")
