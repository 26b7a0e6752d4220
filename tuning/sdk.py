"""The same tuning job as SageMaker Python SDK objects, for users who drive it from the SDK.

`v2_tuner` builds `sagemaker.tuner.HyperparameterTuner` (SDK v2) and `v3_tuner` builds
`sagemaker.train.tuner.HyperparameterTuner` (SDK v3) from one checked Plan. v2 and v3 cannot
be installed together: each lives in its own extra and venv, and is imported here only when
asked for.

A script's plan (a spec with `entry_point`) gives both SDKs its script-mode hyperparameters
as static ones; its sagemaker_submit_directory names the archive that neither SDK uploads
here: put it there first with `tuning.sagemaker.upload_source` (`smtune tune submit` does).
"""

from __future__ import annotations

from typing import Any

from tuning.request import Plan
from tuning.spec import CategoricalRange

RANGE_CLASSES = {"continuous": "ContinuousParameter", "integer": "IntegerParameter"}


def _static(plan: Plan) -> dict[str, str]:
    return dict(plan.request["TrainingJobDefinition"]["StaticHyperParameters"])


def _hyperband(plan: Plan) -> dict[str, int] | None:
    config = plan.request["HyperParameterTuningJobConfig"]
    return config.get("StrategyConfig", {}).get("HyperbandStrategyConfig")


def _tuner_arguments(plan: Plan, parameters: Any) -> dict[str, Any]:
    """What v2's and v3's HyperparameterTuner take alike; `parameters` is the SDK's module
    with CategoricalParameter, ContinuousParameter and IntegerParameter."""
    spec = plan.spec
    ranges: dict[str, Any] = {}
    for name, r in spec.ranges.items():
        if isinstance(r, CategoricalRange):
            ranges[name] = parameters.CategoricalParameter(list(r.values))
        else:
            kind = getattr(parameters, RANGE_CLASSES[r.type])
            ranges[name] = kind(r.min, r.max, scaling_type=r.scaling.value)
    objective = plan.request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    return {
        "objective_metric_name": spec.objective.metric,
        "objective_type": objective["Type"],
        "hyperparameter_ranges": ranges,
        "metric_definitions": [m.definition() for m in plan.metrics],
        "strategy": spec.strategy.type,
        "max_jobs": spec.limits.max_jobs,
        "max_parallel_jobs": spec.limits.max_parallel_jobs,
        "early_stopping_type": spec.early_stopping,
        "random_seed": spec.random_seed,
        "tags": [{"Key": k, "Value": v} for k, v in spec.tags.items()] or None,
    }


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
    hyperband = _hyperband(plan)
    strategy = (
        v2.StrategyConfig(
            v2.HyperbandStrategyConfig(
                max_resource=hyperband["MaxResource"], min_resource=hyperband["MinResource"]
            )
        )
        if hyperband is not None
        else None
    )
    tuner = v2.HyperparameterTuner(
        estimator,
        strategy_config=strategy,
        **_tuner_arguments(plan, v2),
    )
    inputs = {
        name: TrainingInput(
            channel.s3_uri, distribution=channel.distribution, content_type=channel.content_type
        )
        for name, channel in spec.channels.items()
    }
    return tuner, inputs


def v3_tuner(plan: Plan, session: Any = None) -> tuple[Any, list[Any]]:
    """(tuner, inputs) for SDK v3: `tuner.tune(inputs, job_name=plan.spec.name)` submits it.

    v3's tuner keeps a channel's content type and ShardedByS3Key only when given Channel
    objects (plain URIs lose both), and its request serializer drops every falsy field, a
    random seed of 0 among them. So the inputs are Channels, and a seed of 0 is put back into
    the CreateHyperParameterTuningJob call by a botocore hook on the session.
    """
    from sagemaker.core import parameter as v3
    from sagemaker.core import shapes
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import (
        CheckpointConfig,
        Compute,
        OutputDataConfig,
        StoppingCondition,
    )
    from sagemaker.train.tuner import HyperparameterTuner

    spec = plan.spec
    stopping: dict[str, Any] = {"max_runtime_in_seconds": spec.limits.max_runtime_seconds}
    if spec.spot.enabled:
        stopping["max_wait_time_in_seconds"] = spec.spot.max_wait_seconds
    trainer = ModelTrainer(
        training_image=plan.image_uri,
        role=spec.role,
        compute=Compute(
            instance_type=spec.instance.type,
            instance_count=spec.instance.count,
            volume_size_in_gb=spec.instance.volume_gb,
            enable_managed_spot_training=spec.spot.enabled,
        ),
        stopping_condition=StoppingCondition(**stopping),
        output_data_config=OutputDataConfig(s3_output_path=spec.output_path),
        checkpoint_config=CheckpointConfig(s3_uri=spec.checkpoint_s3_uri)
        if spec.checkpoint_s3_uri
        else None,
        hyperparameters=_static(plan),
        sagemaker_session=session,
    )
    hyperband = _hyperband(plan)
    strategy = (
        shapes.HyperParameterTuningJobStrategyConfig(
            hyperband_strategy_config=shapes.HyperbandStrategyConfig(
                min_resource=hyperband["MinResource"], max_resource=hyperband["MaxResource"]
            )
        )
        if hyperband is not None
        else None
    )
    tuner = HyperparameterTuner(
        trainer,
        strategy_config=strategy,
        **_tuner_arguments(plan, v3),
    )
    if spec.random_seed == 0:
        _keep_zero_seed(session.boto_session if session is not None else None)
    inputs = [
        shapes.Channel(
            channel_name=name,
            content_type=channel.content_type,
            data_source=shapes.DataSource(
                s3_data_source=shapes.S3DataSource(
                    s3_data_type="S3Prefix",
                    s3_uri=channel.s3_uri,
                    s3_data_distribution_type=channel.distribution,
                )
            ),
        )
        for name, channel in spec.channels.items()
    ]
    return tuner, inputs


def _keep_zero_seed(boto_session: Any) -> None:
    if boto_session is None:
        raise ValueError("random_seed=0 with SDK v3 needs an explicit session (v3 would drop it)")

    def put_back(params: dict[str, Any], **_: Any) -> None:
        params["HyperParameterTuningJobConfig"].setdefault("RandomSeed", 0)

    boto_session.events.register(
        "provide-client-params.sagemaker.CreateHyperParameterTuningJob", put_back
    )
