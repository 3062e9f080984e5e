"""Outputs fed the merged run each interval (start / interval / end), like k6's outputs
but with cluster-wide merged series instead of every sample."""
