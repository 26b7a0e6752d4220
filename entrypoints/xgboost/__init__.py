"""Distributed XGBoost for SageMaker: data readers, collective, training, checkpoints."""
