"""Cold start on this machine: fresh interpreters importing the handler, against the deps floor.

    python -m benchmarks.cold --out FILE.json [--runs N]

The floor here is a process that only imports the four runtime packages (what
any handler built on them pays); each run alternates it with a process that
imports ``authorizer.app`` with the template's environment and answers one
request: with the key prefetch from a loopback issuer over HTTP, over HTTPS
(with a trust store as large as the system's), and with no prefetch. Best of
``runs`` each. ``cold.own`` is the project's own part: in the runtime's Python,
from the built artifact (its shipped bytecode), the import of ``authorizer.app``
and the settings and parts it builds (no prefetch) after the four packages, against
the four packages' import in the same process. The figures
from the Lambda runtime itself (the emulator, the artifact) are a separate
measurement; this one isolates the Python import and the init work.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from authorizer_tools.devissuer.issuer import DevIssuer
from authorizer_tools.local.runtime import build_artifact, find_python, runtime_python
from benchmarks.entry_point import environment
from benchmarks.issuer import AUDIENCE, trust_store
from benchmarks.measure import Figure, write_figures

ROOT = Path(__file__).resolve().parent.parent

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
from authorizer_tools.local.context import local_context
sys.stdout = open(os.devnull, "w")
started = time.perf_counter()
from authorizer.app import lambda_handler
imported = time.perf_counter()
lambda_handler(make_event("rest_token", "Bearer " + sys.argv[1]), local_context("cold"))
print((imported - started) * 1000, (time.perf_counter() - started) * 1000, file=sys.stderr)
"""


OWN = """
import os, sys, time
started = time.perf_counter()
import jwt, jwt.algorithms, urllib3, cryptography.hazmat.primitives.asymmetric.rsa
from aws_lambda_powertools import Logger, Metrics
deps = time.perf_counter()
import authorizer.app
print((deps - started) * 1000, (time.perf_counter() - deps) * 1000, file=sys.stderr)
"""


def _python(
    script: str, env: dict[str, str], *args: str, python: str = sys.executable, cwd: Path = ROOT
) -> list[float]:
    done = subprocess.run(
        [python, "-c", script, *args],
        cwd=cwd,  # first on the path: the checkout, or the artifact with its bytecode
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [float(part) for part in (done.stdout or done.stderr).split()]


def measure(runs: int) -> list[Figure]:
    with tempfile.TemporaryDirectory() as folder:
        tls, trust = trust_store(Path(folder))
        with DevIssuer() as plain, DevIssuer(tls=tls) as secure:
            return _measure(runs, plain, secure, trust)


def _measure(runs: int, plain: DevIssuer, secure: DevIssuer, trust: dict[str, str]) -> list[Figure]:
    # The system's trust store as a runtime finds it: no SSL_CERT_* from this shell.
    ours = ("JWT_", "AUTHORIZER_", "SSL_CERT_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    variants = {
        "http": (plain, {}),
        "https": (secure, trust),
        "no_prefetch": (plain, {"JWKS_PREFETCH": "false"}),
    }
    deps: list[float] = []
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    for _ in range(runs):
        deps.extend(_python(DEPENDENCIES, base))
        for name, (issuer, extra) in variants.items():
            env = {**base, **environment(issuer.issuer, "defaults"), **extra}
            imported, answered = _python(HANDLER, env, issuer.mint({"aud": AUDIENCE}))
            times[name].append((imported, answered))
    floor = min(deps) * 1000

    def best(name: str, index: int) -> float:
        return min(pair[index] for pair in times[name]) * 1000

    notes = {
        "http": "key prefetch from a loopback issuer over HTTP",
        "https": "key prefetch over HTTPS, with the system's trust store",
        "no_prefetch": "no prefetch: the first request fetches the keys",
    }
    figures = [
        Figure(name="cold.import", micros=best("http", 0), floor_micros=floor, note=notes["http"]),
        _own(runs, plain, base),
    ]
    for name, note in notes.items():
        figures.append(
            Figure(name=f"cold.{name}", micros=best(name, 1), floor_micros=floor, note=note)
        )
    return figures


def _own(runs: int, issuer: DevIssuer, base: dict[str, str]) -> Figure:
    """The project's own import and build, from the artifact in the runtime's Python."""
    artifact = build_artifact("AuthorizerFunction")
    python = str(runtime_python(find_python(None)))
    env = {**base, **environment(issuer.issuer, "defaults"), "JWKS_PREFETCH": "false",
           "PYTHONPATH": str(artifact)}  # fmt: skip
    pairs = [_python(OWN, env, python=python, cwd=artifact) for _ in range(runs)]
    return Figure(
        name="cold.own",
        micros=min(own for _, own in pairs) * 1000,
        floor_micros=min(deps for deps, _ in pairs) * 1000,
        note="the project's own import and build, after the four packages (runtime, artifact)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the figures (JSON)")
    parser.add_argument("--runs", type=int, default=9, help="fresh processes of each kind")
    args = parser.parse_args(argv)
    write_figures(args.out, measure(args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
