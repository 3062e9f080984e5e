"""The Ray side: the driver's pipeline, actors, placement and pulls, per-node
aggregators, signals, the pre-flight, Ray Jobs.
"""
