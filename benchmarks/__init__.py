"""Regression benchmarks: `make bench` runs them and checks the figures against their budgets.

Every figure is a ratio to the floor, a bare RSA-2048 signature check, measured
in the same rounds (see :mod:`benchmarks.measure`). The scripts, one per
question:

* :mod:`benchmarks.entry_point`: ``lambda_handler`` at one configuration;
* :mod:`benchmarks.peers`: the verifiers people use instead, the same way;
* :mod:`benchmarks.cold`: importing the handler in fresh processes;
* :mod:`benchmarks.budget`: the stated budgets, and the check;
* :mod:`benchmarks.__main__`: all of them, the page ``docs/benchmarks.md``, the check.
"""
