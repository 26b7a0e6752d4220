"""The same tuning job as SageMaker Python SDK objects, for users who drive it from the SDK.

`v2_tuner` builds `sagemaker.tuner.HyperparameterTuner` (SDK v2) and `v3_tuner` builds
`sagemaker.train.tuner.HyperparameterTuner` (SDK v3) from one TuningPlan. v2 and v3 cannot
be installed together: each lives in its own extra and venv, and is imported here only when
asked for.

A script's plan (a spec with `entry_point`) gives both SDKs its script-mode hyperparameters
as static ones; its sagemaker_submit_directory names the archive that neither SDK uploads
here: put it there first with `tuning.sagemaker.upload_source` (`smtune tune submit` does).

Several training job definitions: v2 builds them with `HyperparameterTuner.create` (one
Estimator, objective and ranges per definition, its DefinitionName as the estimator's name),
and takes each one's inputs by name. v3 (sagemaker-train 1.27) has the same `create`, but its
`tune` writes one TrainingJobDefinition from the tuner's `model_trainer`, which `create`
leaves None: it cannot send TrainingJobDefinitions, so `v3_tuner` refuses such a plan.

Every strategy goes to both SDKs' `strategy=`, a StrategyConfig only with Hyperband. A Grid
that leaves its number of jobs out gets the number of combinations, which AMT takes as the
same: SDK v2 would send MaxNumberOfTrainingJobs=None, which botocore refuses. Autotune goes to
their `autotune=True`: SDK v2 sends as AutoParameters every hyperparameter of its estimator not
kept static, so the estimator gets the static hyperparameters, all kept static, and the auto
parameters' example values. SDK v3 drops AutoParameters (it takes them out of the static
hyperparameters and never sends them): a plan with auto parameters is refused there. Both
SDKs always send MaxNumberOfTrainingJobs (1 when not given) and TrainingJobEarlyStoppingType
("Off" when not given): an autotuned plan that leaves either to AMT cannot be expressed, and is
refused (`AutotuneNotExpressible`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smtune.containers.errors import BadInput
from smtune.tuning.amt.autotune import left_to_amt
from smtune.tuning.amt.strategy import EarlyStopping
from smtune.tuning.plan import TrainingDefinition, TuningPlan, require_images, the_only
from smtune.tuning.request import keep_completion_target, keep_random_seed

# What `_tuner_arguments` gives per definition: `create` takes each as a dict by name.
PER_DEFINITION = ("objective_metric_name", "hyperparameter_ranges", "metric_definitions")


class NotExpressible(BadInput):
    """A plan an SDK's tuner cannot express; the message says what to use instead."""


class AutotuneNotExpressible(NotExpressible):
    """An autotuned plan the SDK cannot send: a field left to AMT that the SDKs always send, or
    AutoParameters with SDK v3."""


def _expressible(plan: TuningPlan) -> tuple[int, EarlyStopping]:
    """MaxNumberOfTrainingJobs and early stopping as the SDKs send them; refused where the
    plan leaves them to AMT (Autotune), before any SDK is imported."""
    max_jobs, early_stopping = plan.max_jobs, plan.early_stopping  # a Grid's: its size
    if max_jobs is None or early_stopping is None:
        raise AutotuneNotExpressible(
            f"autotune: {plan.name} leaves {', '.join(left_to_amt(max_jobs, early_stopping))} "
            "to AMT, but the SDK tuners always send them (MaxNumberOfTrainingJobs=1, "
            "TrainingJobEarlyStoppingType=Off when not given): give them in the spec, or submit "
            "it with `smtune tune submit`"
        )
    return max_jobs, early_stopping


def _tuner_arguments(plan: TuningPlan, parameters: Any) -> dict[str, Any]:
    """What v2's and v3's HyperparameterTuner take alike; `parameters` is the SDK's module
    with CategoricalParameter, ContinuousParameter and IntegerParameter; the per-definition
    ones (PER_DEFINITION) are the first definition's."""
    max_jobs, early_stopping = _expressible(plan)
    definition = plan.definitions[0]
    return {
        "objective_metric_name": plan.objective.metric,
        "objective_type": plan.objective.direction.value,
        "hyperparameter_ranges": {
            name: r.sdk_parameter(parameters) for name, r in definition.ranges.items()
        },
        "metric_definitions": [m.definition() for m in definition.metrics],
        "strategy": plan.strategy.value,
        "max_jobs": max_jobs,
        "max_parallel_jobs": plan.limits.max_parallel_jobs,
        "early_stopping_type": early_stopping.value,
        "random_seed": plan.random_seed,
        "tags": [{"Key": k, "Value": v} for k, v in plan.tags.items()] or None,
        "autotune": plan.autotune,
        # Kept static, each of them: the SDK sends the estimator's others as AutoParameters.
        "hyperparameters_to_keep_static": list(definition.static_hyperparameters)
        if plan.autotune
        else None,
    }


def v2_tuner(plan: TuningPlan, session: Any = None) -> tuple[Any, dict[str, Any]]:
    """(tuner, inputs) for SDK v2: `tuner.fit(inputs, job_name=plan.name)` submits it. With
    named definitions, the inputs are each definition's, by its name, and v2's fit needs
    `include_cls_metadata={}` too (its default, False, is refused by its dict form)."""
    require_images(plan)
    _expressible(plan)
    from sagemaker import tuner as v2

    arguments = _tuner_arguments(plan, v2)
    hyperband = plan.hyperband
    strategy = (
        v2.StrategyConfig(
            v2.HyperbandStrategyConfig(
                max_resource=hyperband.max_resource, min_resource=hyperband.min_resource
            )
        )
        if hyperband is not None
        else None
    )
    completion = plan.completion
    criteria = (
        v2.TuningJobCompletionCriteriaConfig(
            max_number_of_training_jobs_not_improving=(
                completion.max_number_of_training_jobs_not_improving
            ),
            # v2 sends False as Disabled; we leave a criterion not asked for out.
            complete_on_convergence=completion.complete_on_convergence or None,
            target_objective_metric_value=completion.target_objective_metric_value,
        )
        if completion is not None
        else None
    )
    if not the_only(plan.definitions):
        for key in (*PER_DEFINITION, "hyperparameters_to_keep_static"):
            del arguments[key]
        named = {d.name or "": d for d in plan.definitions}  # names: the plan requires them
        tuner = v2.HyperparameterTuner.create(
            hyperparameters_to_keep_static_dict={
                n: list(d.static_hyperparameters) for n, d in named.items()
            }
            if plan.autotune
            else None,
            estimator_dict={n: _v2_estimator(d, session) for n, d in named.items()},
            objective_metric_name_dict=dict.fromkeys(named, plan.objective.metric),
            hyperparameter_ranges_dict={
                n: {k: r.sdk_parameter(v2) for k, r in d.ranges.items()} for n, d in named.items()
            },
            metric_definitions_dict={
                n: [m.definition() for m in d.metrics] for n, d in named.items()
            },
            strategy_config=strategy,
            completion_criteria_config=criteria,
            **arguments,
        )
        return tuner, {n: _v2_inputs(d) for n, d in named.items()}
    definition = plan.definition
    warm = plan.warm_start  # the plan refuses it with several definitions
    tuner = v2.HyperparameterTuner(
        _v2_estimator(definition, session),
        strategy_config=strategy,
        completion_criteria_config=criteria,
        # v2 keeps the parents as a set: their order in the request is v2's.
        warm_start_config=v2.WarmStartConfig(
            v2.WarmStartTypes(warm.type.value), parents=set(warm.parents)
        )
        if warm is not None
        else None,
        **arguments,
    )
    return tuner, _v2_inputs(definition)


def _v2_estimator(definition: TrainingDefinition, session: Any) -> Any:
    from sagemaker.estimator import Estimator

    return Estimator(
        image_uri=definition.image_uri,
        role=definition.role,
        instance_count=definition.instance.count,
        instance_type=definition.instance.type,
        volume_size=definition.instance.volume_gb,
        max_run=definition.max_runtime_s,
        output_path=definition.output_path,
        use_spot_instances=definition.spot is not None,
        max_wait=definition.spot.max_wait_s if definition.spot else None,
        checkpoint_s3_uri=definition.checkpoint_uri,
        hyperparameters={**definition.static_hyperparameters, **definition.auto_parameters},
        max_retry_attempts=definition.retry.maximum_retry_attempts if definition.retry else None,
        sagemaker_session=session,
    )


def _v2_inputs(definition: TrainingDefinition) -> dict[str, Any]:
    from sagemaker.inputs import TrainingInput

    return {
        channel.name: TrainingInput(
            channel.s3_uri,
            distribution=channel.distribution.value,
            content_type=channel.content_type,
        )
        for channel in definition.channels
    }


def v3_tuner(plan: TuningPlan, session: Any = None) -> tuple[Any, list[Any]]:
    """(tuner, inputs) for SDK v3: `tuner.tune(inputs, job_name=plan.name)` submits it.

    v3's tuner keeps a channel's content type and ShardedByS3Key only when given Channel
    objects (plain URIs lose both), and its request serializer drops every falsy field, a
    random seed of 0 among them. So the inputs are Channels, and a seed of 0 is put back into
    the CreateHyperParameterTuningJob call by a botocore hook on the session.
    """
    require_images(plan)
    if not the_only(plan.definitions):
        raise NotExpressible(
            f"definitions: {plan.name}'s named training job definitions "
            f"({', '.join(d.name or '' for d in plan.definitions)}) go as "
            "TrainingJobDefinitions, which SDK v3's HyperparameterTuner cannot send (its tune() "
            "writes one TrainingJobDefinition, from one ModelTrainer): use SDK v2 "
            "(tuning.sdk.v2_tuner) or `smtune tune submit`"
        )
    _expressible(plan)
    if plan.definition.auto_parameters:
        raise AutotuneNotExpressible(
            f"auto_parameters: SDK v3's tuner drops AutoParameters "
            f"({', '.join(plan.definition.auto_parameters)}): build {plan.name} with SDK v2's "
            "(`v2_tuner`), or submit it with `smtune tune submit`"
        )
    from sagemaker.core import parameter as v3
    from sagemaker.core import shapes
    from sagemaker.train import ModelTrainer
    from sagemaker.train.configs import (
        CheckpointConfig,
        Compute,
        OutputDataConfig,
        RetryStrategy,
        StoppingCondition,
    )
    from sagemaker.train.tuner import HyperparameterTuner

    arguments = _tuner_arguments(plan, v3)
    definition = plan.definition
    stopping: dict[str, Any] = {"max_runtime_in_seconds": definition.max_runtime_s}
    if definition.spot is not None:
        stopping["max_wait_time_in_seconds"] = definition.spot.max_wait_s
    trainer = ModelTrainer(
        training_image=definition.image_uri,
        role=definition.role,
        compute=Compute(
            instance_type=definition.instance.type,
            instance_count=definition.instance.count,
            volume_size_in_gb=definition.instance.volume_gb,
            enable_managed_spot_training=definition.spot is not None,
        ),
        stopping_condition=StoppingCondition(**stopping),
        output_data_config=OutputDataConfig(s3_output_path=definition.output_path),
        checkpoint_config=CheckpointConfig(s3_uri=definition.checkpoint_uri)
        if definition.checkpoint_uri
        else None,
        hyperparameters=dict(definition.static_hyperparameters),
        sagemaker_session=session,
    )
    if definition.retry is not None:  # v3 takes it only through this setter
        trainer.with_retry_strategy(
            RetryStrategy(maximum_retry_attempts=definition.retry.maximum_retry_attempts)
        )
    hyperband = plan.hyperband
    strategy = (
        shapes.HyperParameterTuningJobStrategyConfig(
            hyperband_strategy_config=shapes.HyperbandStrategyConfig(
                min_resource=hyperband.min_resource, max_resource=hyperband.max_resource
            )
        )
        if hyperband is not None
        else None
    )
    warm = plan.warm_start
    tuner = HyperparameterTuner(
        trainer,
        strategy_config=strategy,
        completion_criteria_config=_v3_completion(plan, shapes),
        warm_start_config=shapes.HyperParameterTuningJobWarmStartConfig(
            parent_hyper_parameter_tuning_jobs=[
                shapes.ParentHyperParameterTuningJob(hyper_parameter_tuning_job_name=name)
                for name in warm.parents
            ],
            warm_start_type=warm.type.value,
        )
        if warm is not None
        else None,
        **arguments,
    )
    if plan.random_seed == 0:
        _put_back_zero(session, "random_seed", lambda params: keep_random_seed(params, 0))
    if plan.completion is not None and plan.completion.target_objective_metric_value == 0:
        _put_back_zero(
            session,
            "completion.target_objective",
            lambda params: keep_completion_target(params, 0.0),
        )
    inputs = [
        shapes.Channel(
            channel_name=channel.name,
            content_type=channel.content_type,
            data_source=shapes.DataSource(
                s3_data_source=shapes.S3DataSource(
                    s3_data_type="S3Prefix",
                    s3_uri=channel.s3_uri,
                    s3_data_distribution_type=channel.distribution.value,
                )
            ),
        )
        for channel in definition.channels
    ]
    return tuner, inputs


def _v3_completion(plan: TuningPlan, shapes: Any) -> Any:
    """v3's TuningJobCompletionCriteria of the plan's criteria (None: none)."""
    completion = plan.completion
    if completion is None:
        return None
    limit = completion.max_number_of_training_jobs_not_improving
    return shapes.TuningJobCompletionCriteria(
        target_objective_metric_value=completion.target_objective_metric_value,
        best_objective_not_improving=shapes.BestObjectiveNotImproving(
            max_number_of_training_jobs_not_improving=limit
        )
        if limit is not None
        else None,
        convergence_detected=shapes.ConvergenceDetected(complete_on_convergence="Enabled")
        if completion.complete_on_convergence
        else None,
    )


def _put_back_zero(session: Any, field: str, put_back: Callable[[dict[str, Any]], None]) -> None:
    """v3's request serializer drops every falsy field, a 0 among them: a botocore hook on
    `session` puts `field` back into the CreateHyperParameterTuningJob call."""
    boto_session = session.boto_session if session is not None else None
    if boto_session is None:
        raise ValueError(f"{field}=0 with SDK v3 needs an explicit session (v3 would drop it)")
    boto_session.events.register(
        "provide-client-params.sagemaker.CreateHyperParameterTuningJob",
        lambda params, **_: put_back(params),
    )
