"""A tiny trainer for testing tuners: a learning curve computed from its hyperparameters.

It follows the same contract as the real images (hyperparameters, metric lines through a
MetricSpec, checkpoints, SIGTERM, failure file), so schedulers, journals and rehearsals can
be tested in seconds; the real XGBoost jobs are their integration tests.
"""
