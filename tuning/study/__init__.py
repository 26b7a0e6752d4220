"""`smtune study`: the seed's experiment as one command.

The baseline (untuned) job at every cluster size, the Hyperband tuning job rehearsed (or
submitted) at every size, and a report: the drop at N hosts, what tuning wins back at what
compute, how far Hyperband's rungs can be trusted, and which cluster size to pay for.

Everything it needs of the tuning module goes through `tuning_seam`, one module.
"""
