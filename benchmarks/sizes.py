"""What a memory size costs: init and decisions in the runtime emulator under Lambda's CPU share.

    python -m benchmarks.sizes --out FILE.json [--runs N] [--warm N] [--memory 128 512 1024]

For each memory size, each handler runs ``--runs`` cold starts in the emulator
and ``awslambdaric`` (the built artifact), the emulator and the runtime it
starts under the memory size's share of one core (:mod:`benchmarks.cpushare`),
then ``--warm`` warm invokes, each with a token never seen before (a signature
checked every time, the most a decision costs). The issuer serves HTTPS on
loopback, trusted through the system's own store and the test CA. Handlers:

* ``bare``: nothing imported, nothing done (the runtime's own cost);
* ``deps``: the four runtime packages imported (the least any handler on them pays);
* ``verify_only``: ``deps``, the keys fetched at init, one ``jwt.decode`` per request;
* ``https``: this authorizer at the template's defaults, keys prefetched over HTTPS;
* ``https_far``: the same, the issuer :data:`~benchmarks.runtime.FAR_SECONDS` away;
* ``bundled``: the same with a bundled key set (``keys pin``): no request at init.

Reported per handler, best of the runs (init) and median of the warm invokes:
the runtime's ``Init Duration`` and ``Duration``, what Lambda would bill for
them (1 ms steps; init is billed), and the cost at arm64 prices
(:data:`PRICES`). Where this machine cannot set a CPU quota the figures say so
and nothing is measured.
"""

from __future__ import annotations

import argparse
import math
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
from benchmarks.cpushare import CpuShare, fraction, unavailable
from benchmarks.entry_point import environment
from benchmarks.issuer import AUDIENCE, trust_store
from benchmarks.measure import Figure, write_figures
from benchmarks.runtime import handler_and_env

HERE = Path(__file__).resolve().parent
HANDLERS = ("bare", "deps", "verify_only", "https", "https_far", "bundled")
MEMORY_SIZES = (128, 512, 1024)
#: us-east-1, arm64, on demand, read from https://aws.amazon.com/lambda/pricing/ and
#: https://aws.amazon.com/dynamodb/pricing/on-demand/ (2026-12): USD.
PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "dynamodb_write_request_unit": 0.625 / 1e6,
}


def billed_ms(duration_ms: float) -> int:
    """What Lambda bills for a duration: whole milliseconds, rounded up, at least one."""
    return max(1, math.ceil(duration_ms))


def cost_per_million(warm_ms: float, memory_mb: int) -> float:
    """USD for a million invocations of ``warm_ms`` each: the request charge and the compute."""
    compute = billed_ms(warm_ms) / 1000 * memory_mb / 1024 * PRICES["lambda_gb_second_arm64"]
    return 1e6 * (PRICES["lambda_request"] + compute)


def cold_start_cost(init_ms: float, first_ms: float, memory_mb: int) -> float:
    """USD for one cold start's billed init and first invoke (without its request charge)."""
    seconds = billed_ms(init_ms + first_ms) / 1000
    return seconds * memory_mb / 1024 * PRICES["lambda_gb_second_arm64"]


def measure(runs: int, warm: int, sizes: Sequence[int]) -> list[Figure]:
    why = unavailable()
    if why is not None:
        return [Figure(name="sizes.unavailable", micros=0.0, floor_micros=1.0, note=why)]
    artifact = build_artifact("AuthorizerFunction")
    python = runtime_python(find_python(None))
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as folder:
        tls, trust = trust_store(Path(folder))
        with DevIssuer(tls=tls) as issuer:
            keys = Path(folder, "keys.json")
            with temporary_environment(**trust):
                pin_keys(
                    {**environment(issuer.issuer, "defaults"), "JWT_KEYS_FILE": str(keys)}, None
                )
            for memory in sizes:
                setup = Setup(issuer, keys, trust, artifact, python, memory, warm)
                results = {
                    variant: [_one(variant, setup) for _ in range(runs)] for variant in HANDLERS
                }
                figures += _figures(memory, results)
    return figures


@dataclass(frozen=True)
class Setup:
    """What every run at one memory size shares."""

    issuer: DevIssuer
    keys: Path
    trust: dict[str, str]
    artifact: Path
    python: Path
    memory: int
    warm: int


def _one(variant: str, setup: Setup) -> dict[str, float]:
    handler, env = handler_and_env(variant, setup.issuer, setup.keys)
    artifact, memory = setup.artifact, setup.memory
    env.update(
        setup.trust,
        PYTHONPATH=f"{artifact}{os.pathsep}{HERE}",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(memory),
    )
    tokens = [setup.issuer.mint({"aud": AUDIENCE}) for _ in range(setup.warm + 1)]
    events = [make_event("rest_token", f"Bearer {token}") for token in tokens]
    with (
        CpuShare(memory) as share,
        LambdaRuntime(
            "AuthorizerFunction", artifact, env, python=setup.python, handler=handler
        ) as runtime,
    ):
        if runtime.pid is None:
            raise RuntimeError(f"{variant}: the emulator did not start")
        share.add(runtime.pid)  # before the first invoke: the runtime it starts inherits the quota
        first = runtime.invoke(events[0])
        if first.error_type is not None or first.duration_ms is None or first.init_ms is None:
            raise RuntimeError(f"{variant}: {first.error_type}: {first.error_message}")
        durations = [runtime.invoke(event).duration_ms for event in events[1:]]
    return {
        "init": first.init_ms,
        "first": first.duration_ms - first.init_ms,  # the emulator's first Duration holds init
        "warm": statistics.median(d for d in durations if d is not None) if durations else 0.0,
    }


def _figures(memory: int, results: dict[str, list[dict[str, float]]]) -> list[Figure]:
    """Each handler's init (best run) against ``deps``, its invokes against ``bare``."""

    def best(variant: str, measure: str) -> float:
        return min(run[measure] for run in results[variant])

    def typical(variant: str, measure: str) -> float:
        return statistics.median(run[measure] for run in results[variant])

    share = f"{fraction(memory):.1%} of a core"
    figures = []
    for variant in results:
        init, first, warm = (
            best(variant, "init"),
            typical(variant, "first"),
            typical(variant, "warm"),
        )
        for name, value, floor in (
            ("init", init, best("deps", "init")),
            ("first", first, typical("bare", "first")),
            ("warm", warm, typical("bare", "warm")),
        ):
            figures.append(
                Figure(
                    name=f"sizes.{memory}.{variant}.{name}",
                    micros=value * 1000,
                    floor_micros=floor * 1000,
                    note=share,
                )
            )
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sizes", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="the figures (JSON)")
    parser.add_argument("--runs", type=int, default=3, help="cold starts of each handler")
    parser.add_argument("--warm", type=int, default=30, help="warm invokes after each")
    parser.add_argument("--memory", type=int, nargs="*", default=list(MEMORY_SIZES))
    args = parser.parse_args(argv)
    write_figures(args.out, measure(args.runs, args.warm, args.memory))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
