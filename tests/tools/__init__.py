"""Tests of the developer tools, authorizer_tools/, and the benchmarks."""
