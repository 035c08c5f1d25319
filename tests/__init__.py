"""The test suite: tests/runtime, tests/tools and tests/deployment mirror the house."""

from pathlib import Path

#: The checkout's root (the folder holding authorizer/ and template.yaml).
ROOT = Path(__file__).resolve().parent.parent
