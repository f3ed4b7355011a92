"""The benchmark tooling behind ``python -m hypersio bench``: the workloads and their runner
(``runner``), the load generator (``loadgen``) and the bare-uvloop floor server (``floor``).
"""
