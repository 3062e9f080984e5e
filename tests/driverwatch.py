"""The CLI as a subprocess, watched: its stderr lines as they arrive, its peak RSS."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import psutil


def run_watched(args: list[str]) -> tuple[int, list[tuple[float, str]], int]:
    """Run the CLI; (exit code, stderr lines with their arrival time, peak driver RSS)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "veza_ray.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[tuple[float, str]] = []
    peak = [0]

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append((time.monotonic(), line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    driver = psutil.Process(proc.pid)
    while True:  # sample every 50 ms until the driver exits
        try:
            peak[0] = max(peak[0], driver.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        try:
            proc.wait(0.05)
            break
        except subprocess.TimeoutExpired:
            continue
    code = proc.wait()
    reader.join()
    return code, lines, peak[0]
