"""API Gateway Lambda authorizer that verifies OpenID Connect JWT access tokens.

The handler lives in :mod:`authorizer.app`; downstream functions read the
verified claims with :mod:`authorizer.claims`, which depends on nothing but the
standard library. Importing this package itself does no work.
"""

__version__ = "0.1.0"
