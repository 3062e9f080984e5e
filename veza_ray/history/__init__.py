"""Run history: the SQLite store, the history/compare commands, the run's hook."""
