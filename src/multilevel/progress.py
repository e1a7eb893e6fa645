"""A small text progress bar on stderr, without dependencies.

>>> from multilevel.progress import Progress
>>> with Progress(3, "fits", enabled=False) as bar:
...     for _ in range(3):
...         bar.update()
>>> bar.done
3

Long loops (simulation studies, bootstraps) take ``progress=True/False`` and pass it here as
``enabled``; a disabled bar writes nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TextIO, TypeVar

T = TypeVar("T")


class Progress:
    """A text progress bar: ``label [#######.......] 12/40  3.1s, ~7.2s left``.

    Parameters
    ----------
    total
        Number of steps.
    label
        Text before the bar.
    enabled
        Draw the bar (False: do nothing at all).
    stream
        Where to draw (default: ``sys.stderr`` at the time of drawing).
    width
        Characters of the bar itself.
    min_interval
        Seconds between redraws (the last step is always drawn).

    On a terminal the bar redraws in place; written to a file or a pipe it prints a line at
    each tenth of the way instead, so logs stay short.
    """

    def __init__(
        self,
        total: int,
        label: str = "",
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        width: int = 30,
        min_interval: float = 0.1,
    ) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.enabled = bool(enabled)
        self.stream = stream
        self.width = max(int(width), 1)
        self.min_interval = min_interval
        self.done = 0
        self._start = time.perf_counter()
        self._last_draw = -float("inf")
        self._drawn: int | None = None
        self._width_drawn = 0
        self._closed = False

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stderr

    def line(self) -> str:
        """The bar's current text (without the carriage return)."""
        frac = 1.0 if self.total == 0 else min(self.done / self.total, 1.0)
        filled = round(frac * self.width)
        elapsed = time.perf_counter() - self._start
        text = f"[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total}"
        text += f"  {elapsed:.1f}s"
        if 0 < self.done < self.total:
            text += f", ~{elapsed / self.done * (self.total - self.done):.1f}s left"
        return f"{self.label} {text}" if self.label else text

    def _interactive(self) -> bool:
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty()) if callable(isatty) else False

    def _draw(self, force: bool = False) -> None:
        if not self.enabled or self._closed:
            return
        out = self._out()
        if not self._interactive():
            # a log file: one line per tenth of the way, no carriage returns
            tenth = 10 * self.done // max(self.total, 1)
            last = -1 if self._drawn is None else 10 * self._drawn // max(self.total, 1)
            if tenth != last or (force and self._drawn != self.done and self.done >= self.total):
                self._drawn = self.done
                out.write(self.line() + "\n")
                out.flush()
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        self._drawn = self.done
        text = self.line()
        out.write("\r" + text.ljust(self._width_drawn))
        out.flush()
        self._width_drawn = len(text)

    def update(self, n: int = 1) -> None:
        """Advance by ``n`` steps and redraw (at most every ``min_interval`` seconds)."""
        self.done += n
        self._draw(force=self.done >= self.total)

    def close(self) -> None:
        """Draw the final state and end the line."""
        if self._closed:
            return
        if self._drawn != self.done:
            self._draw(force=True)
        if self.enabled and self._interactive():
            self._out().write("\n")
            self._out().flush()
        self._closed = True

    def __enter__(self) -> Progress:
        self._draw(force=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(
    items: Iterable[T], total: int, label: str = "", *, enabled: bool = True
) -> Iterator[T]:
    """Iterate over ``items`` while drawing a :class:`Progress` bar of ``total`` steps."""
    with Progress(total, label, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update()


__all__ = ["Progress", "track"]
