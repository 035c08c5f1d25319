"""Handlers the runtime benchmark compares with this authorizer, run by ``awslambdaric``.

Each reads its issuer from ``BENCH_ISSUER`` and ``BENCH_AUDIENCE``:

* ``bare``: nothing imported, nothing done (the runtime's own cost);
* ``deps``: the four runtime packages imported at init (the floor of any handler built on them);
* ``verify_only``: ``deps``, the key set fetched at init (PyJWT's ``PyJWKClient``, over
  HTTPS) and one ``jwt.decode`` per request, nothing else: no event parsing, no
  issuer check, no rules, no log line (the least any verifying authorizer does);
* ``powertools``: Powertools' ``auth_alpha`` verifier as its documentation shows an
  authorizer (``JWTVerifier`` at module level, ``authorize()`` for an IAM response,
  ``inject_lambda_context``);
* ``provider_sample``: the pattern of Authgear's backend guide, discovery and a new
  ``PyJWKClient`` per request.
"""

from __future__ import annotations

import os
from typing import Any

KIND = os.environ.get("BENCH_HANDLER", "bare")

if KIND != "bare":
    import jwt
    import urllib3
    from aws_lambda_powertools import Logger, Metrics
    from cryptography.hazmat.primitives.asymmetric import rsa

    LOADED = (jwt, urllib3, Logger, Metrics, rsa)  # imported for their cost at init

if KIND == "powertools":
    from aws_lambda_powertools.utilities.auth_alpha.jwt import JWTVerifier

    logger = Logger()
    verifier = JWTVerifier(
        issuer=os.environ["BENCH_ISSUER"],
        audience=os.environ["BENCH_AUDIENCE"],
        algorithms=["RS256"],
    )
    verifier.prefetch()

    @logger.inject_lambda_context
    def powertools(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return verifier.authorize(event, response_format="iam", context_claims=["sub"])


if KIND == "verify_only":
    keys = jwt.PyJWKClient(f"{os.environ['BENCH_ISSUER']}/jwks")
    keys.get_signing_keys()  # at init, as this authorizer's prefetch

    def verify_only(event: dict[str, Any], context: Any) -> dict[str, Any]:
        token = event["authorizationToken"].split(" ", 1)[1]
        key = keys.get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, audience=os.environ["BENCH_AUDIENCE"], algorithms=["RS256"])
        return {"principalId": claims["sub"]}


def bare(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {}


def deps(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {}


def provider_sample(event: dict[str, Any], context: Any) -> dict[str, Any]:
    import json  # noqa: PLC0415 - as the sample does it: everything per request
    import urllib.request  # noqa: PLC0415

    issuer, audience = os.environ["BENCH_ISSUER"], os.environ["BENCH_AUDIENCE"]
    token = event["authorizationToken"].split(" ", 1)[1]
    discovery = f"{issuer}/.well-known/openid-configuration"
    with urllib.request.urlopen(discovery, timeout=5) as response:  # noqa: S310
        jwks_uri = json.load(response)["jwks_uri"]
    key = jwt.PyJWKClient(jwks_uri).get_signing_key_from_jwt(token).key
    claims = jwt.decode(token, key, audience=audience, algorithms=["RS256"])
    return {
        "principalId": claims["sub"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
    }
