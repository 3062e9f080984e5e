"""Pure: no I/O, no Ray, no sockets, no event loop.

Options, executors' configs, schedules, thresholds, digests, metrics, the merged run,
the summary, the outcome, wire types. tests/unit/test_layout.py holds the line.
"""
