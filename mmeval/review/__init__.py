"""Human review of a run's outputs (issue #18): aggregation of ratings so far (aggregate.py)."""
