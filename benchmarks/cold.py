"""Cold start on this machine: fresh interpreters importing the handler, against the deps floor.

    python -m benchmarks.cold --out FILE.json [--runs N]

The floor here is a process that only imports the four runtime packages (what
any handler built on them pays); each run alternates it with a process that
imports ``authorizer.app`` with the template's environment (key prefetch on,
loopback issuer) and answers one request. Best of ``runs`` each. The figures
from the Lambda runtime itself (the emulator, the artifact) are a separate
measurement; this one isolates the Python import and the init work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from authorizer_tools.devissuer import DevIssuer
from benchmarks.entry_point import AUDIENCE, environment
from benchmarks.measure import Figure, write_figures

DEPENDENCIES = """
import time
started = time.perf_counter()
import jwt, jwt.algorithms, urllib3, cryptography.hazmat.primitives.asymmetric.rsa
from aws_lambda_powertools import Logger, Metrics
print((time.perf_counter() - started) * 1000)
"""

HANDLER = """
import os, sys, time
from authorizer_tools.eventgen import make_event
from authorizer_tools.localcontext import local_context
sys.stdout = open(os.devnull, "w")
started = time.perf_counter()
from authorizer.app import lambda_handler
imported = time.perf_counter()
lambda_handler(make_event("rest_token", "Bearer " + sys.argv[1]), local_context("cold"))
print((imported - started) * 1000, (time.perf_counter() - started) * 1000, file=sys.stderr)
"""


def _python(script: str, env: dict[str, str], *args: str) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [float(part) for part in (done.stdout or done.stderr).split()]


def measure(runs: int) -> list[Figure]:
    issuer = DevIssuer().start()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "AUTHORIZER_"))}
    env = {**base, **environment(issuer.issuer, "defaults")}
    deps: list[float] = []
    imports: list[float] = []
    answered: list[float] = []
    for _ in range(runs):
        deps.extend(_python(DEPENDENCIES, base))
        imported, first = _python(HANDLER, env, issuer.mint({"aud": AUDIENCE}))
        imports.append(imported)
        answered.append(first)
    issuer.stop()
    floor = min(deps) * 1000
    return [
        Figure(
            name="cold.import",
            micros=min(imports) * 1000,
            floor_micros=floor,
            note="import authorizer.app: settings, key prefetch (loopback)",
        ),
        Figure(
            name="cold.first_answer",
            micros=min(answered) * 1000,
            floor_micros=floor,
            note="the import and the first request answered",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the figures (JSON)")
    parser.add_argument("--runs", type=int, default=9, help="fresh processes of each kind")
    args = parser.parse_args(argv)
    write_figures(args.out, measure(args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
