"""veza-ray's benchmark harness: `python -m bench --help` (see bench/README.md)."""
