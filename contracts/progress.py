"""What a run shows while it goes, on stderr: the layer that runs, the operation it is at, the examples it ran
and the findings it made so far. On a terminal that is a live display (rich); elsewhere (a log, CI) one line as
each layer starts and one as it ends, e.g. "[schema] done in 12.3s: 0 finding(s)".

The runner and the layers speak to it through `layer(name)` as a layer starts, `step(operation, examples=n,
findings=k)` as it goes and `done(findings)` as it ends; `close()` once the run is over.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    """Shows nothing: what a run reports to unless given another (tests, the suite used as a library)."""

    def layer(self, name: str) -> None:
        """A layer starts."""

    def step(self, operation: str, examples: int | None = None, findings: int | None = None) -> None:
        """The layer is at `operation`, with `examples` run and `findings` made so far (None: as before)."""

    def done(self, findings: int) -> None:
        """The layer that started last ended, with `findings`."""

    def close(self) -> None:
        """The run is over."""


class LogLines(Progress):
    """A line as each layer starts and ends: for logs, where a live display would be noise."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._layer = ""
        self._started = 0.0

    def layer(self, name: str) -> None:
        self._layer, self._started = name, time.monotonic()
        self._print(f"[{name}] started")

    def done(self, findings: int) -> None:
        self._print(f"[{self._layer}] done in {time.monotonic() - self._started:.1f}s: {findings} finding(s)")

    def _print(self, line: str) -> None:
        print(line, file=self._stream, flush=True)


class LiveDisplay(Progress):
    """One line per layer, live while it runs: a spinner, the operation, examples, findings, time elapsed."""

    def __init__(self, stream: TextIO) -> None:
        from rich.console import Console  # only a terminal needs rich
        from rich.progress import Progress as Display
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
        from rich.table import Column

        # the operation takes what the terminal's width leaves (cut short with an ellipsis), the rest is fixed
        self._display = Display(
            SpinnerColumn(finished_text="-"), TextColumn("{task.description}", style="bold", markup=False),
            TextColumn("{task.fields[operation]}", markup=False,
                       table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
            TextColumn("{task.fields[examples]:>5} examples"), TextColumn("{task.fields[findings]:>3} finding(s)"),
            TimeElapsedColumn(), console=Console(file=stream), transient=False, expand=True)
        self._task: Any = None

    def layer(self, name: str) -> None:
        if self._task is None:
            self._display.start()
        self._task = self._display.add_task(f"[{name}]", total=None, operation="starting", examples=0, findings=0)

    def step(self, operation: str, examples: int | None = None, findings: int | None = None) -> None:
        if self._task is None:
            return
        fields: dict[str, Any] = {"operation": operation}
        if examples is not None:
            fields["examples"] = examples
        if findings is not None:
            fields["findings"] = findings
        self._display.update(self._task, **fields)

    def done(self, findings: int) -> None:
        if self._task is not None:
            self._display.update(self._task, total=1, completed=1, operation="done", findings=findings)

    def close(self) -> None:
        self._display.stop()


def for_stream(stream: TextIO | None = None) -> Progress:
    """A live display on a terminal, else log lines (default stream: stderr)."""
    stream = stream if stream is not None else sys.stderr
    isatty = getattr(stream, "isatty", None)
    return LiveDisplay(stream) if isatty is not None and isatty() else LogLines(stream)
