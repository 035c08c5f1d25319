"""A deployment or a spike: many execution environments start at once against one issuer.

    python -m benchmarks.mass_cold_start --out FILE.json [--runtimes N]

``N`` runtimes (the emulator and ``awslambdaric`` each, the built artifact,
the template's environment) are started, then all get their first request at
the same moment. Reported for keys prefetched over HTTPS and for a bundled key
set: the requests the issuer saw (what its rate limits count), and the time
from the requests to the last first decision (on this 2-core machine the
runtimes' inits compete for the CPU, as they would not on Lambda: read that
figure as a comparison between the two, not as Lambda's).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.environ import temporary_environment
from authorizer_tools.eventgen import make_event
from authorizer_tools.keypin import pin_keys
from authorizer_tools.local.runtime import (
    LambdaRuntime,
    build_artifact,
    find_python,
    runtime_python,
)
from benchmarks.entry_point import environment
from benchmarks.issuer import AUDIENCE, trust_store
from benchmarks.measure import Figure, write_figures


def measure(runtimes: int) -> list[Figure]:
    artifact = build_artifact("AuthorizerFunction")
    python = runtime_python(find_python(None))
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        tls, trust = trust_store(Path(folder))
        with DevIssuer(tls=tls) as issuer:
            base = {**environment(issuer.issuer, "defaults"), **trust}
            keys = Path(folder, "keys.json")
            with temporary_environment(**trust):
                pin_keys({**base, "JWT_KEYS_FILE": str(keys)}, None)
            token = issuer.mint({"aud": AUDIENCE}, lifetime=3600)
            for mode, env in (("https", base), ("bundled", {**base, "JWT_KEYS_FILE": str(keys)})):
                before = len(issuer.requests)
                seconds, allowed = _storm(runtimes, artifact, python, env, token)
                requests = len(issuer.requests) - before
                if allowed != runtimes:
                    raise RuntimeError(f"{mode}: {runtimes - allowed} runtime(s) did not allow")
                figures.append(
                    Figure(
                        name=f"mass.{mode}",
                        micros=seconds * 1e6,
                        floor_micros=float(runtimes),
                        note=f"{runtimes} cold starts at once: {requests} issuer request(s)",
                    )
                )
    return figures


def _storm(
    runtimes: int, artifact: Path, python: Path, env: dict[str, str], token: str
) -> tuple[float, int]:
    """Start ``runtimes`` environments, send each its first request at once; (seconds, allows)."""
    event = make_event("rest_token", f"Bearer {token}")
    with contextlib.ExitStack() as stack:
        started = [
            stack.enter_context(
                LambdaRuntime(
                    "AuthorizerFunction",
                    artifact,
                    {**env, "PYTHONPATH": str(artifact)},
                    python=python,
                )
            )
            for _ in range(runtimes)
        ]
        with concurrent.futures.ThreadPoolExecutor(max_workers=runtimes) as pool:
            begun = time.monotonic()
            answers = list(pool.map(lambda runtime: runtime.invoke(event), started))
            seconds = time.monotonic() - begun
    allowed = sum(
        1
        for answer in answers
        if isinstance(answer.payload, dict)
        and answer.payload.get("policyDocument", {}).get("Statement", [{}])[0].get("Effect")
        == "Allow"
    )
    return seconds, allowed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mass_cold_start", description=__doc__
    )
    parser.add_argument("--out", type=Path, required=True, help="the figures (JSON)")
    parser.add_argument("--runtimes", type=int, default=50, help="environments starting at once")
    args = parser.parse_args(argv)
    write_figures(args.out, measure(args.runtimes))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
