"""stdout and stderr whose reader may leave: the verdict survives a closed pipe or terminal.

``veza-ray run ... | head -1`` closes stdout's reader after one line; a closed terminal
(SIGHUP) turns every write into EIO. Python ignores SIGPIPE, so such a write raises
(BrokenPipeError, EIO), and wherever it raises (a progress line, Ray's log thread, the
end-of-test summary, the interpreter's final flush) it would end the run with the wrong
exit code and no outcome line. Restoring SIGPIPE's default action would be worse: the
process would die silently, with no summary and the load still running.

So the CLI wraps both streams once at start-up (``guard_std_streams``). The first write
that finds its reader gone puts /dev/null over that file descriptor (so Ray's threads, C
code and the final flush write nowhere instead of failing), says so once on the other
stream if that one is still alive, and remembers it for the summary's notes. The run
goes on: the summary file is written, the outcome line goes to stderr, and the exit code
is the run's.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import threading
import time
from typing import TextIO, cast

# A reader that left (EPIPE, ECONNRESET), a terminal that hung up (EIO, ENXIO), a
# descriptor someone closed (EBADF).
GONE = frozenset({errno.EPIPE, errno.ECONNRESET, errno.EIO, errno.ENXIO, errno.EBADF})


class GuardedStream(io.TextIOBase):
    """A text stream whose failed writes mean "the reader left", never an error."""

    def __init__(self, name: str, fd: int, inner: TextIO, started: float) -> None:
        super().__init__()
        self.name = name
        self.fd = fd
        self.inner = inner
        self.lost = ""  # what happened, for the summary's notes; "" while it is alive
        self.other: GuardedStream | None = None  # where to say that this one was lost
        self._started = started
        self._lock = threading.Lock()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.inner, "encoding", "utf-8"))

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.inner, "errors", None)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        if self.lost:
            return False
        with contextlib.suppress(OSError, ValueError):
            return self.inner.isatty()
        return False

    def fileno(self) -> int:
        return self.fd

    def write(self, text: str) -> int:
        if self.lost:
            return len(text)
        try:
            self.inner.write(text)
        except OSError as exc:
            self._lose(exc)
        return len(text)

    def flush(self) -> None:
        if self.lost:
            return
        try:
            self.inner.flush()
        except OSError as exc:
            self._lose(exc)

    def lose(self, why: str) -> None:
        """Mark this stream gone (closed before we started: its descriptor, if it was
        closed, already points at /dev/null; if another file took its number, it is left
        alone)."""
        with self._lock:
            self.lost = self.lost or why

    def _lose(self, exc: OSError) -> None:
        if exc.errno not in GONE:
            raise exc
        with self._lock:
            if self.lost:
                return
            at = time.monotonic() - self._started
            what = os.strerror(exc.errno or 0)
            self.lost = f"{self.name} was closed by its reader {at:.1f} s after start ({what})"
            _devnull_over(self.fd)
            # Drop what the buffer still holds: it now goes to /dev/null.
            with contextlib.suppress(OSError, ValueError):
                self.inner.flush()
        other = self.other
        if other is not None and not other.lost:
            other.write(
                f"veza-ray: {self.lost}; the rest of its output is dropped, the run goes on "
                "and its exit code is unchanged\n"
            )
            other.flush()


def _devnull_over(fd: int) -> None:
    """Point ``fd`` at /dev/null, so every later write to it (from any code) succeeds."""
    null = os.open(os.devnull, os.O_RDWR)
    if null == fd:  # ``fd`` was closed, so /dev/null took its number: done
        return
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def _open_fd(fd: int) -> bool:
    """Whether ``fd`` is open; a closed one (``>&-``) gets /dev/null, so that the next file
    or socket opened does not become "stdout" for us or for the processes we start."""
    try:
        os.fstat(fd)
        return True
    except OSError:
        _devnull_over(fd)
        return False


def guard_std_streams() -> tuple[GuardedStream, GuardedStream]:
    """Wrap sys.stdout and sys.stderr once for the process (the CLI's first step)."""
    if isinstance(sys.stdout, GuardedStream) and isinstance(sys.stderr, GuardedStream):
        return sys.stdout, sys.stderr
    started = time.monotonic()
    _open_fd(0)
    guards = []
    for name, fd in (("stdout", 1), ("stderr", 2)):
        was_open = _open_fd(fd)
        inner = getattr(sys, name)
        if inner is None:  # Python found the descriptor closed when it started
            inner = open(fd, "w", encoding="utf-8", errors="replace", closefd=False)  # noqa: SIM115
        guard = GuardedStream(name, fd, cast(TextIO, inner), started)
        if not was_open or getattr(sys, name) is None:
            guard.lose(f"{name} was closed when veza-ray started")
        guards.append(guard)
    out, err = guards
    out.other = err  # a lost stderr is not announced on stdout: that may be a data stream
    sys.stdout = cast(TextIO, out)
    sys.stderr = cast(TextIO, err)
    return out, err


def lost_streams() -> tuple[str, ...]:
    """What happened to stdout and stderr during the run, for the outcome's notes."""
    return tuple(
        s.lost for s in (sys.stdout, sys.stderr) if isinstance(s, GuardedStream) and s.lost
    )
