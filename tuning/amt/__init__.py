"""AMT's vocabulary and documented rules, pure: the strategy and early-stopping enums, ranges
(both ways of the wire: to ParameterRanges and from a described job), bracket arithmetic,
Grid, Autotune, completion criteria, retries, warm start and several definitions. No I/O, no
clock; each rule cites the AWS text it reads."""
