"""Where it runs: the built artifact in AWS's Lambda runtime (the emulator and ``awslambdaric``).

    python -m benchmarks.runtime --out FILE.json [--runs N] [--warm N]

Each run is a new execution environment: the emulator starts the runtime
client at the first invoke (its init, then a first invoke), then ``--warm``
more invokes of the same token follow. Reported per handler, best of
``--runs``: init (the runtime's ``Init Duration``), the first invoke, the
median warm invoke (``Duration`` of the runtime's ``REPORT`` lines), the
runtime client's peak resident memory, and the requests the issuer saw per
cold start. The issuer serves HTTPS on loopback, trusted through the system's
own store and the test CA (:func:`benchmarks.issuer.trust_store`). Handlers:

* ``bare`` and ``deps`` (see :mod:`benchmarks.runtime_handlers`): the floors;
* ``https``: this authorizer with the template's environment, keys prefetched over HTTPS;
* ``https_far``: the same from an issuer :data:`FAR_SECONDS` away (three round trips:
  the connection and handshake, discovery, the key set), which the head start overlaps
  with the imports (:mod:`authorizer.keys.headstart`);
* ``bundled``: the same with a key set pinned by ``keys pin`` (no request at all);
* ``no_prefetch``: ``JWKS_PREFETCH=false`` (the first request fetches);
* ``powertools`` and ``provider_sample``: the peers, as their documentation shows them.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
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

HERE = Path(__file__).resolve().parent
VARIANTS = (
    "bare", "deps", "https", "https_far", "bundled", "no_prefetch", "powertools", "provider_sample"
)  # fmt: skip
#: How far away the issuer of ``https_far`` is: each connection and each answer waits this long.
FAR_SECONDS = 0.05


def handler_and_env(
    variant: str, issuer: DevIssuer, keys: Path
) -> tuple[str | None, dict[str, str]]:
    """The handler (None: this authorizer's) and environment of a handler variant.

    Sets how far away ``issuer`` is for the variant too (``https_far``: :data:`FAR_SECONDS`).
    """
    issuer.latency = FAR_SECONDS if variant == "https_far" else 0.0
    peer = {"BENCH_ISSUER": issuer.issuer, "BENCH_AUDIENCE": AUDIENCE, "BENCH_HANDLER": variant}
    if variant in ("bare", "deps", "verify_only", "powertools", "provider_sample"):
        return f"runtime_handlers.{variant}", peer
    env = environment(issuer.issuer, "defaults")
    if variant == "bundled":
        env["JWT_KEYS_FILE"] = str(keys)
    elif variant == "no_prefetch":
        env["JWKS_PREFETCH"] = "false"
    return None, env


@dataclass(frozen=True)
class Setup:
    """What every run shares: the issuer, the pinned keys, the trust store, the artifact."""

    issuer: DevIssuer
    keys: Path
    trust: dict[str, str]
    artifact: Path
    python: Path
    warm: int
    distinct: int  # distinct tokens after the warm invokes, for the memory growth


def measure(
    runs: int, warm: int, distinct: int, variants: Sequence[str] = VARIANTS
) -> list[Figure]:
    artifact = build_artifact("AuthorizerFunction")
    python = runtime_python(find_python(None))
    with tempfile.TemporaryDirectory() as folder:
        tls, trust = trust_store(Path(folder))
        with DevIssuer(tls=tls) as issuer:
            keys = Path(folder, "keys.json")
            base = environment(issuer.issuer, "defaults")
            with temporary_environment(**trust):  # trusted as the runtime does
                pin_keys({**base, "JWT_KEYS_FILE": str(keys)}, None)
            setup = Setup(issuer, keys, trust, artifact, python, warm, distinct)
            results = {variant: [_one(variant, setup) for _ in range(runs)] for variant in variants}
    return _figures(results)


def _one(variant: str, setup: Setup) -> dict[str, float]:
    issuer = setup.issuer
    handler, env = handler_and_env(variant, issuer, setup.keys)
    env.update(setup.trust, PYTHONPATH=f"{setup.artifact}{os.pathsep}{HERE}")
    event = make_event("rest_token", f"Bearer {issuer.mint({'aud': AUDIENCE})}")
    before = len(issuer.requests)
    with LambdaRuntime(
        "AuthorizerFunction", setup.artifact, env, python=setup.python, handler=handler
    ) as runtime:
        first = runtime.invoke(event)
        if first.error_type is not None or first.duration_ms is None:
            raise RuntimeError(f"{variant}: {first.error_type}: {first.error_message}")
        requests = len(issuer.requests) - before
        durations = [runtime.invoke(event).duration_ms for _ in range(setup.warm)]
        rss = runtime.peak_rss_kib() or 0
        growth = 0
        if variant == "https" and setup.distinct:
            for token in (issuer.mint({"aud": AUDIENCE}) for _ in range(setup.distinct)):
                runtime.invoke(make_event("rest_token", f"Bearer {token}"))
            growth = (runtime.peak_rss_kib() or 0) - rss
    init = first.init_ms or 0.0
    return {
        "init": init,
        "first": first.duration_ms - init,  # the emulator's first Duration includes the init
        "warm": statistics.median(d for d in durations if d is not None) if durations else 0.0,
        "rss": rss / 1024,
        "growth": growth / 1024,
        # Where tokens were sent for it, growth is a figure even when it is 0.
        "growth_measured": float(variant == "https" and setup.distinct > 0),
        "requests": requests,
    }


def _figures(results: dict[str, list[dict[str, float]]]) -> list[Figure]:
    """Each handler's best run of each measure, against its floor (deps or bare)."""

    def best(variant: str, measure: str) -> float:
        return min(run[measure] for run in results[variant])

    floors = {"init": "deps", "first": "bare", "warm": "bare", "rss": "deps"}
    figures = []
    for variant, runs in results.items():
        requests = max(run["requests"] for run in runs)
        for name, floor in floors.items():
            base = best(floor if floor in results else variant, name)
            scale = 1 if name == "rss" else 1000  # memory in MiB; times in us
            figures.append(
                Figure(
                    name=f"runtime.{variant}.{name}",
                    micros=best(variant, name) * scale,
                    floor_micros=base * scale,
                    note=f"{requests} issuer request(s) per cold start",
                )
            )
        if any(run["growth_measured"] for run in runs):
            growth = max(run["growth"] for run in runs)
            figures.append(
                Figure(
                    name="runtime.https.growth",
                    micros=growth,
                    floor_micros=best("deps", "rss") if "deps" in results else 1.0,
                    note="peak RSS growth (MiB) over distinct tokens after the warm invokes",
                )
            )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.runtime", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the figures (JSON)")
    parser.add_argument("--runs", type=int, default=5, help="cold starts of each handler")
    parser.add_argument("--warm", type=int, default=50, help="warm invokes after each")
    parser.add_argument(
        "--distinct", type=int, default=0, help="then this many distinct tokens (memory growth)"
    )
    parser.add_argument("--only", nargs="*", choices=VARIANTS, help="these handlers only")
    args = parser.parse_args(argv)
    figures = measure(args.runs, args.warm, args.distinct, args.only or VARIANTS)
    write_figures(args.out, figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
