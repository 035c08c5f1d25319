"""Tests of the runtime package, authorizer/: what a deployed function does."""
