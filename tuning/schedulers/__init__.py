"""What a rehearsal drives, pure: the scheduler interface and its decisions (`base`), and a
scheduler for each strategy a rehearsal runs: Hyperband, Random, Grid, with the median rule
of `TrainingJobEarlyStoppingType: Auto`. Bayesian search is refused, and why is argued in
`bayesian`. No I/O, no clock of their own."""
