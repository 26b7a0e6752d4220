"""Tuning: AMT Hyperband jobs from one spec, on SageMaker or rehearsed locally."""
