"""The stop-signal rules and the closed-stream guard, in-process (no Ray, no CLI)."""

from __future__ import annotations

import io
import os
import signal
from collections.abc import Iterator
from typing import TextIO, cast

import pytest

from veza_ray.cluster.interrupts import STOP_SIGNALS, Interrupts, StopRequested
from veza_ray.core import exitcodes
from veza_ray.core.outcome import RunFacts, decide
from veza_ray.outputs.stdstreams import GuardedStream


@pytest.fixture
def interrupts() -> Iterator[Interrupts]:
    signals = Interrupts().install()
    try:
        yield signals
    finally:
        signals.restore()


def test_sighup_is_a_stop_signal_like_sigterm(interrupts: Interrupts) -> None:
    assert signal.SIGHUP in STOP_SIGNALS
    with pytest.raises(StopRequested) as caught:
        os.kill(os.getpid(), signal.SIGHUP)
    assert caught.value.signal_name == "SIGHUP"
    assert interrupts.received == ["SIGHUP"]


def test_while_the_script_loads_the_first_signal_waits_and_a_second_stops(
    interrupts: Interrupts,
) -> None:
    with interrupts.deferring():
        os.kill(os.getpid(), signal.SIGTERM)
        assert interrupts.received == ["SIGTERM"]  # remembered, nothing raised
        with pytest.raises(StopRequested):
            os.kill(os.getpid(), signal.SIGHUP)
    assert interrupts.first == "SIGTERM"


def test_signals_after_the_verdict_are_late_and_never_raise(interrupts: Interrupts) -> None:
    interrupts.flagging()
    os.kill(os.getpid(), signal.SIGINT)
    interrupts.decided()
    assert interrupts.late == []
    os.kill(os.getpid(), signal.SIGHUP)
    assert interrupts.late == ["SIGHUP"]
    assert interrupts.first == "SIGINT"


def test_a_stop_before_any_vu_names_its_phase_and_a_closed_stream_is_only_a_note() -> None:
    out = decide(RunFacts(stop_signal="SIGHUP", stop_phase="while Ray started", planned_s=30))
    assert out.code == exitcodes.EXTERNAL_ABORT
    assert out.reasons == (
        "stopped by SIGHUP while Ray started, before any VU started; no load was sent",
    )
    lost = "stdout was closed by its reader 2.0 s after start (Broken pipe)"
    ok = decide(RunFacts(requests=10, planned_s=3, ran_s=3, streams_lost=(lost,)))
    assert ok.code == exitcodes.OK
    assert ok.notes == (f"{lost}: what was written to it after that was dropped",)


def _pipe_stream() -> tuple[int, int, TextIO]:
    r, w = os.pipe()
    return r, w, cast(TextIO, open(w, "w", closefd=False))


@pytest.mark.parametrize("flush_each", [True, False])
def test_a_write_to_a_pipe_whose_reader_left_is_dropped_not_raised(flush_each: bool) -> None:
    r, w, inner = _pipe_stream()
    said = io.StringIO()
    stream = GuardedStream("stdout", w, inner, 0.0)
    stream.other = GuardedStream("stderr", -1, cast(TextIO, said), 0.0)
    os.close(r)  # the reader leaves (`| head -1`)
    try:
        for _ in range(3):
            stream.write("x" * 100_000 + "\n")
            if flush_each:
                stream.flush()
        stream.flush()
        assert stream.lost.startswith("stdout was closed by its reader")
        assert "Broken pipe" in stream.lost
        # The descriptor now points at /dev/null: any other writer to it succeeds too.
        assert os.write(w, b"more") == 4
        assert os.readlink(f"/proc/self/fd/{w}") == os.devnull
        assert said.getvalue().count("stdout was closed by its reader") == 1
        assert not stream.isatty()
    finally:
        inner.close()
        os.close(w)


def test_other_write_errors_are_still_errors() -> None:
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    stream = GuardedStream("stdout", -1, cast(TextIO, Full()), 0.0)
    with pytest.raises(OSError, match="No space"):
        stream.write("x")
    assert stream.lost == ""
