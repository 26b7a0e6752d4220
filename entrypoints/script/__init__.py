"""Script mode: a user's own training script, run as SageMaker's framework containers run it.

A script written for SageMaker's PyTorch container runs unchanged on smtune's images: when
hyperparameters.json names `sagemaker_program`, the image's `train` command fetches the code
(`sagemaker_submit_directory`), installs its requirements.txt, sets the SM_* variables of
sagemaker-training, MASTER_ADDR and MASTER_PORT, and runs the script with its hyperparameters
as `--name value` arguments: once per host, under torchrun, or under Horovod over gloo. Its
failure becomes the job's failure file, and a stop reaches every process it started.

Modules, one job each: `settings` (the sagemaker_* hyperparameters and the script's own),
`distribution` (how the script is launched), `source` (code, requirements, entry point),
`environment` (the variables), `processes` (a child whose stderr is streamed and remembered),
`torchrun` (torch's agent in a process of its own), `runner` (the host's main), `dispatch`
(script or built-in algorithm, for both images). The launchers themselves are shared with the
built-in DNN: `entrypoints.workers`.
"""
