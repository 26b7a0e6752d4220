"""smtune: distributed training images for Amazon SageMaker, local multi-host runs, and AMT
Hyperband tuning.

One import name for the whole project: `smtune.entrypoints` (what runs in the images),
`smtune.containers` (images and local jobs) and `smtune.tuning` (specs, plans, rehearsals,
studies). In the repository each is a top-level folder, which `smtune/` links to; a wheel
carries them as plain folders under `smtune/`.
"""
