"""The verifiers people use instead of this one, each against the same floor.

    python -m benchmarks.peers --out FILE.json [--iterations N] [--rounds R]

Each verifies distinct valid RS256 tokens from a loopback issuer, with the
checks this authorizer makes where the library offers them (signature, issuer,
audience, expiry). These are the verifiers alone, called directly: no event to
read, no response to build, no log line, so they are to be compared with the
``quiet`` figures of :mod:`benchmarks.entry_point` (which include all three).

* PyJWT's ``jwt.decode`` with the public key already loaded;
* PyJWT's ``PyJWKClient`` (warm: its key set cached) and ``jwt.decode``;
* joserfc's ``jwt.decode`` and a claims registry;
* Powertools' own ``auth_alpha.jwt.JWTVerifier`` (aws-lambda-powertools 3.37),
  given the key set (``jwks=``), its cheapest configuration: it requires HTTPS,
  so it cannot fetch from the loopback issuer;
* the provider sample's pattern (Authgear's backend guide): discovery, a new
  ``PyJWKClient`` and a key-set fetch per request, on loopback.
"""

from __future__ import annotations

import argparse
import json
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jwt
from aws_lambda_powertools.utilities.auth_alpha.jwt import JWTVerifier
from joserfc import jwk as jose_jwk
from joserfc import jwt as jose_jwt

from authorizer_tools.devissuer.issuer import DevIssuer
from benchmarks.measure import Figure, Floor, against_floor, write_figures

AUDIENCE = "https://api.example.test"
#: auth_alpha accepts only an HTTPS issuer; it never fetches from it here (``jwks=``).
HTTPS_ISSUER = "https://issuer.example.test"


def measure(iterations: int, rounds: int) -> list[Figure]:
    issuer = DevIssuer().start()
    floor = Floor()
    key = next(iter(issuer.keys.values()))
    public = key.private.public_key()

    def batches(claims: dict[str, str], count: int) -> Iterator[list[str]]:
        return iter([[issuer.mint(claims) for _ in range(count)] for _ in range(rounds)])

    def each(tokens: Iterator[list[str]], verify: Callable[[str], object]) -> Callable[[], int]:
        def run() -> int:
            batch = next(tokens)
            for token in batch:
                verify(token)
            return len(batch)

        return run

    def decode(token: str, key: Any) -> object:
        return jwt.decode(
            token, key, audience=AUDIENCE, issuer=issuer.issuer, leeway=60, algorithms=["RS256"]
        )

    client = jwt.PyJWKClient(issuer.jwks_uri)
    jose_key = jose_jwk.import_key(issuer.jwks()["keys"][0])
    registry = jose_jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": issuer.issuer},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    )
    powertools = JWTVerifier(
        issuer=HTTPS_ISSUER, audience=AUDIENCE, algorithms=["RS256"], jwks=issuer.jwks()
    )

    def provider_sample(token: str) -> None:
        with urllib.request.urlopen(issuer.discovery_uri, timeout=5) as response:  # noqa: S310
            jwks_uri = json.load(response)["jwks_uri"]
        fresh = jwt.PyJWKClient(jwks_uri)
        decode(token, fresh.get_signing_key_from_jwt(token).key)

    ours = {"aud": AUDIENCE}
    peers: list[tuple[str, Callable[[], int], str]] = [
        ("pyjwt", each(batches(ours, iterations), lambda t: decode(t, public)), ""),
        (
            "pyjwkclient",
            each(
                batches(ours, iterations),
                lambda t: decode(t, client.get_signing_key_from_jwt(t).key),
            ),
            "",
        ),
        (
            "joserfc",
            each(
                batches(ours, iterations),
                lambda t: registry.validate(jose_jwt.decode(t, jose_key, ["RS256"]).claims),
            ),
            "",
        ),
        (
            "powertools_auth_alpha",
            each(batches({**ours, "iss": HTTPS_ISSUER}, iterations), powertools.verify),
            "static key set (jwks=)",
        ),
        (
            "provider_sample",
            each(batches(ours, max(1, iterations // 20)), provider_sample),
            "loopback issuer",
        ),
    ]
    client.get_signing_key_from_jwt(issuer.mint(ours))  # warm its key-set cache
    figures = [
        against_floor(f"peers.{name}", run, floor, rounds, note) for name, run, note in peers
    ]
    issuer.stop()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the figures (JSON)")
    parser.add_argument("--iterations", type=int, default=400, help="tokens per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds; the best one counts")
    args = parser.parse_args(argv)
    write_figures(args.out, measure(args.iterations, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
