"""The stop a signal asks for while a run starts: raised by cluster/interrupts.py, caught
where a scenario file is loaded (engine/scenario.py) and by the CLI; here, below both, so
neither imports the other."""

from __future__ import annotations


class StopRequested(BaseException):
    """A stop signal arrived while the run was starting (not an error of the script)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"stopped by {name}")
        self.signal_name = name
