"""Spec to plan, offline: the planner, every check, botocore's service model, several
training job definitions and script mode's fields."""
