"""The same tuning job as SageMaker Python SDK objects, for users who drive it from the SDK.

`v2_tuner` builds `sagemaker.tuner.HyperparameterTuner` (SDK v2) and `v3_tuner` builds
`sagemaker.train.tuner.HyperparameterTuner` (SDK v3) from one checked Plan. v2 and v3 cannot
be installed together: each lives in its own extra and venv, and is imported here only when
asked for.
"""

from __future__ import annotations

from typing import Any

from tuning.request import Plan
from tuning.spec import CategoricalRange

V2_RANGES = {"continuous": "ContinuousParameter", "integer": "IntegerParameter"}


def _static(plan: Plan) -> dict[str, str]:
    return dict(plan.request["TrainingJobDefinition"]["StaticHyperParameters"])


def v2_tuner(plan: Plan, session: Any = None) -> tuple[Any, dict[str, Any]]:
    """(tuner, inputs) for SDK v2: `tuner.fit(inputs, job_name=plan.spec.name)` submits it."""
    from sagemaker import tuner as v2
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    spec = plan.spec
    estimator = Estimator(
        image_uri=plan.image_uri,
        role=spec.role,
        instance_count=spec.instance.count,
        instance_type=spec.instance.type,
        volume_size=spec.instance.volume_gb,
        max_run=spec.limits.max_runtime_seconds,
        output_path=spec.output_path,
        use_spot_instances=spec.spot.enabled,
        max_wait=spec.spot.max_wait_seconds if spec.spot.enabled else None,
        checkpoint_s3_uri=spec.checkpoint_s3_uri,
        hyperparameters=_static(plan),
        sagemaker_session=session,
    )
    ranges: dict[str, Any] = {}
    for name, r in spec.ranges.items():
        if isinstance(r, CategoricalRange):
            ranges[name] = v2.CategoricalParameter(list(r.values))
        else:
            kind = getattr(v2, V2_RANGES[r.type])
            ranges[name] = kind(r.min, r.max, scaling_type=r.scaling.value)
    config = plan.request["HyperParameterTuningJobConfig"]
    hyperband = config.get("StrategyConfig", {}).get("HyperbandStrategyConfig")
    tuner = v2.HyperparameterTuner(
        estimator,
        objective_metric_name=spec.objective.metric,
        objective_type=config["HyperParameterTuningJobObjective"]["Type"],
        hyperparameter_ranges=ranges,
        metric_definitions=[m.definition() for m in plan.metrics],
        strategy=spec.strategy.type,
        strategy_config=v2.StrategyConfig(
            v2.HyperbandStrategyConfig(
                max_resource=hyperband["MaxResource"], min_resource=hyperband["MinResource"]
            )
        )
        if hyperband
        else None,
        max_jobs=spec.limits.max_jobs,
        max_parallel_jobs=spec.limits.max_parallel_jobs,
        early_stopping_type=spec.early_stopping,
        random_seed=spec.random_seed,
        tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()] or None,
    )
    inputs = {
        name: TrainingInput(
            channel.s3_uri, distribution=channel.distribution, content_type=channel.content_type
        )
        for name, channel in spec.channels.items()
    }
    return tuner, inputs
