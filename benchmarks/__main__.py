"""``make bench``: every benchmark in fresh processes, the page, and the budget check.

    python -m benchmarks [--quick] [--page docs/benchmarks.md] [--record]

Exit status 1 when a figure is over its budget (:mod:`benchmarks.budget`).
``--quick`` runs tiny counts to show the scripts work; its figures mean
nothing, so it checks no budget and writes no page unless asked.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from benchmarks.budget import MARGIN, over_budget, read_recorded, record
from benchmarks.measure import FLOOR_NAME, Figure, read_figures
from benchmarks.sizes import PRICES, billed_ms, cold_start_cost, cost_per_million

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS: dict[str, list[str]] = {
    # script: its arguments at full size; --quick replaces the counts
    "entry_point defaults": ["--iterations", "1000", "--rounds", "9"],
    "entry_point quiet": ["--iterations", "1000", "--rounds", "9"],
    "entry_point dpop": ["--iterations", "1000", "--rounds", "9"],
    "entry_point opaque": ["--iterations", "1000", "--rounds", "9"],
    "entry_point dpop_shared": ["--iterations", "300", "--rounds", "5"],
    "peers": ["--iterations", "500", "--rounds", "9"],
    "cold": ["--runs", "15"],
    "runtime": ["--runs", "5", "--warm", "50", "--distinct", "5000"],
    "mass_cold_start": ["--runtimes", "50"],
    "sizes": ["--runs", "3", "--warm", "30"],
}
QUICK: dict[str, list[str]] = {
    "entry_point defaults": ["--iterations", "20", "--rounds", "2"],
    "entry_point quiet": ["--iterations", "20", "--rounds", "2"],
    "entry_point dpop": ["--iterations", "20", "--rounds", "2"],
    "entry_point opaque": ["--iterations", "20", "--rounds", "2"],
    "entry_point dpop_shared": ["--iterations", "20", "--rounds", "2"],
    "peers": ["--iterations", "20", "--rounds", "2"],
    "cold": ["--runs", "1"],
    "runtime": ["--runs", "1", "--warm", "3", "--distinct", "5"],
    "mass_cold_start": ["--runtimes", "3"],
    "sizes": ["--runs", "1", "--warm", "3", "--memory", "512"],
}
REQUESTS = {
    "first_seen": "a valid token, first seen (signature checked)",
    "seen_before": "the same token again (verified-token cache)",
    "junk": "not a JWT",
    "random_kid": "a key the issuer never had (flood)",
}
DPOP = {
    "dpop_new_proof": "a DPoP-bound token seen before, a new ES256 proof (one proof check)",
    "dpop_replayed": "the same proof again (refused: replay)",
    "bearer_seen_before": "a bearer token seen before, under the same policy",
}
OPAQUE = {
    "opaque_first_seen": "an opaque token, first seen (one introspection request)",
    "opaque_seen_before": "the same opaque token again (its kept answer)",
}
RUNTIME = {
    "bare": "a bare handler (floor of the invokes)",
    "deps": "a handler importing the four packages (floor of init and memory)",
    "https": "this authorizer, keys prefetched over HTTPS",
    "https_far": "the same, the issuer 50 ms away (three round trips)",
    "bundled": "this authorizer, a bundled key set",
    "no_prefetch": "this authorizer, no prefetch (the first request fetches)",
    "powertools": "Powertools `auth_alpha` authorizer, as documented",
    "provider_sample": "the provider sample (discovery + key set per request)",
}
#: Figures that are someone else's (the peers) or a floor: measured, never held to a budget.
NOT_OURS = ("peers.", "mass.", "runtime.bare.", "runtime.deps.", "runtime.powertools.",
            "runtime.provider_sample.", "sizes.")  # fmt: skip
SIZES = {
    "bare": "a bare handler",
    "deps": "the four packages imported",
    "verify_only": "verify only: keys at init, `jwt.decode`",
    "https": "this authorizer, keys prefetched over HTTPS",
    "https_far": "the same, the issuer 50 ms away",
    "bundled": "this authorizer, a bundled key set",
}
PEERS = {
    "pyjwt": "PyJWT `jwt.decode`, key preloaded",
    "pyjwkclient": "PyJWT `PyJWKClient` (warm) + `jwt.decode`",
    "joserfc": "joserfc `jwt.decode` + claims registry",
    "powertools_auth_alpha": "Powertools `auth_alpha` `JWTVerifier`",
    "provider_sample": "provider sample: discovery + new `PyJWKClient` per request",
}


def run_all(quick: bool) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as folder:
        for index, (script, arguments) in enumerate((QUICK if quick else SCRIPTS).items()):
            module, *positional = script.split()
            out = Path(folder, f"{index}.json")
            command = [sys.executable, "-m", f"benchmarks.{module}", *positional, "--out", str(out)]
            print(f"bench: {script}", file=sys.stderr, flush=True)
            subprocess.run([*command, *arguments], cwd=ROOT, check=True)
            figures.extend(read_figures(out))
    return figures


def machine() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("cryptography", "PyJWT", "urllib3", "aws-lambda-powertools", "joserfc")
    )
    return f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; {versions}"


def page(figures: Sequence[Figure], problems: Sequence[str]) -> str:
    by_name = {figure.name: figure for figure in figures}

    def cell(name: str) -> str:
        figure = by_name[name]
        return f"{figure.ratio:.2f}x ({figure.micros:,.1f} us)"

    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    lines = [
        "# Benchmarks",
        "",
        f"Measured {today} with `make bench` on {machine()}.",
        "",
        f"Every figure is a ratio to the floor, one {FLOOR_NAME} over distinct messages,",
        "measured in the same rounds (a batch of floor checks before each round; the best round of",
        "each counts), so that the machine's drift does not show up as a difference. Microseconds",
        "are per request, for scale only. The scripts are in `benchmarks/`, one per question.",
        "",
        "## This authorizer: `lambda_handler`, the function Lambda calls",
        "",
        "REST `TOKEN` events, the template's environment, a loopback issuer; log and metric lines",
        "written to stdout (`/dev/null`). A refusal raises `Unauthorized`, as in Lambda.",
        "",
        "| request | template defaults: INFO, metrics on | WARNING, metrics off |",
        "|---|---:|---:|",
    ]
    for key, label in REQUESTS.items():
        lines.append(f"| {label} | {cell(f'defaults.{key}')} | {cell(f'quiet.{key}')} |")
    flood = by_name["defaults.random_kid"].note
    lines += [
        "",
        f"The flood at the defaults: {flood} (the refresh cooldown holds).",
        "",
        "## Sender-constrained tokens",
        "",
        "`SenderConstraint=either` at the template's defaults (INFO, metrics on), HTTP API 2.0",
        "events: what a DPoP client's warm request costs. Compare the last row with the",
        "defaults' seen-before row above, a REST `TOKEN` event under the `bearer` policy.",
        "",
        "| request | in memory, per environment | `DpopReplayTable`: shared (dynalite) |",
        "|---|---:|---:|",
        *(
            f"| {label} | {cell(f'dpop.{key}')} | {cell(f'dpop_shared.{key}')} |"
            for key, label in DPOP.items()
        ),
        "",
        *_shared_store_cost(by_name),
        "",
        "## Opaque tokens",
        "",
        "The template's defaults with `Introspection*` set (the client's secret in SSM, moto's",
        "server on loopback, read at the cold start), REST `TOKEN` events. A first-seen token's",
        "figure is mostly the loopback endpoint's own answer (a Python `http.server` in another",
        "process, over a kept-alive connection): a provider across a network adds its round trip,",
        "once per token until the answer's `exp` or `IntrospectionCacheSeconds`.",
        "",
        "| request | x floor | note |",
        "|---|---:|---|",
        *(
            f"| {label} | {cell(f'opaque.{key}')} | {by_name[f'opaque.{key}'].note} |"
            for key, label in OPAQUE.items()
        ),
        "",
        "## Peers: the verifier alone",
        "",
        "Called directly with distinct valid RS256 tokens: no event, no response, no log line,",
        "so compare them with the WARNING column above, which includes all three.",
        "",
        "| verifier | x floor | note |",
        "|---|---:|---|",
    ]
    for key, label in PEERS.items():
        figure = by_name[f"peers.{key}"]
        lines.append(f"| {label} | {cell(figure.name)} | {figure.note} |")
    lines += [
        "",
        "## Cold start: fresh interpreters",
        "",
        "The floor is a process that only imports the four runtime packages.",
        "",
        "| measurement | ms | over the floor |",
        "|---|---:|---:|",
    ]
    for name in ("cold.import", "cold.http", "cold.https", "cold.no_prefetch"):
        figure = by_name[name]
        extra = (figure.micros - figure.floor_micros) / 1000
        what = "import only" if name == "cold.import" else "import and first answer"
        lines.append(f"| {figure.note}: {what} | {figure.micros / 1000:.1f} | +{extra:.1f} ms |")
    floor_ms = by_name["cold.import"].floor_micros / 1000
    own = by_name["cold.own"]
    lines += [
        f"| the four runtime packages (floor) | {floor_ms:.1f} | |",
        "",
        "These import the project from the checkout, compiling it; Lambda runs the artifact's",
        f"bytecode. There, in the runtime's Python, {own.note}: {own.micros / 1000:.1f} ms",
        f"({own.ratio:.2f}x the four packages' {own.floor_micros / 1000:.1f} ms, same process).",
        "",
    ]
    lines += _runtime_section(by_name)
    lines += _sizes_section(by_name)
    lines += ["## Budgets", ""]
    recorded = read_recorded()
    lines.append(
        f"Each recorded figure may regress by {MARGIN:.0%} before `make bench` fails"
        " (`benchmarks/recorded.json`; `make bench RECORD=1` records new ones)."
    )
    lines += ["", "| figure | recorded | budget | this run |", "|---|---:|---:|---:|"]
    for name, ratio in sorted(recorded.items()):
        now = f"{by_name[name].ratio:.2f}x" if name in by_name else "not measured"
        lines.append(f"| `{name}` | {ratio:.2f}x | {ratio * (1 + MARGIN):.2f}x | {now} |")
    lines += ["", "Over budget: " + ("; ".join(problems) if problems else "none."), ""]
    return "\n".join(lines)


def _runtime_section(by_name: dict[str, Figure]) -> list[str]:
    """The runtime emulator's figures, and the mass cold start."""
    lines = [
        "## In the Lambda runtime: the emulator and `awslambdaric`",
        "",
        "The built artifact, Python 3.13, a new execution environment per run (best of the",
        "runs); the issuer serves HTTPS on loopback with a trust store as large as the system's.",
        "Init and memory against the handler that only imports the four packages; invokes",
        "against the bare handler. Durations are the runtime's own `REPORT` figures.",
        "",
        "| handler | init ms | over deps | first invoke ms | warm invoke ms | peak RSS MiB"
        " | issuer requests |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in RUNTIME.items():
        if f"runtime.{key}.init" not in by_name:
            continue
        init, first, warm, rss = (
            by_name[f"runtime.{key}.{m}"] for m in ("init", "first", "warm", "rss")
        )
        over = (init.micros - init.floor_micros) / 1000
        requests = init.note.split()[0]
        lines.append(
            f"| {label} | {init.micros / 1000:.1f} | {over:+.1f} | {first.micros / 1000:.2f} |"
            f" {warm.micros / 1000:.2f} | {rss.micros:.1f} | {requests} |"
        )
    if "runtime.https.growth" in by_name:
        growth = by_name["runtime.https.growth"]
        lines += [
            "",
            f"Memory: {growth.note}: {growth.micros:.1f} MiB (5,000 tokens in `make bench`).",
        ]
    lines.append("")
    if "mass.https" in by_name:
        lines += [
            "## Mass cold start",
            "",
            "Environments started together, each given its first request at the same moment. On",
            "2 cores their inits compete for the CPU, which they would not on Lambda: compare the",
            "two rows, not the seconds with Lambda's.",
            "",
            "| keys | seconds to the last first decision | issuer requests |",
            "|---|---:|---|",
        ]
        for mode, label in (("https", "prefetched over HTTPS"), ("bundled", "bundled")):
            figure = by_name[f"mass.{mode}"]
            lines.append(f"| {label} | {figure.micros / 1e6:.1f} | {figure.note} |")
        lines.append("")
    return lines


def _shared_store_cost(by_name: dict[str, Figure]) -> list[str]:
    """What the shared replay store adds to a DPoP request, and to a million of them."""
    added_ms = (
        by_name["dpop_shared.dpop_new_proof"].micros - by_name["dpop.dpop_new_proof"].micros
    ) / 1000
    write = PRICES["dynamodb_write_request_unit"] * 1e6
    lambda_512 = cost_per_million(added_ms, 512) - PRICES["lambda_request"] * 1e6
    return [
        f"The shared store adds {added_ms:.2f} ms to a DPoP request here: one conditional",
        "`PutItem` to dynalite over a kept-alive loopback connection, of which about 1 ms is",
        "botocore's own CPU in the function (measured alone: 1.05-1.09 ms per write with",
        "`time.process_time`); in AWS, DynamoDB's in-region latency takes dynalite's place. A",
        f"million DPoP requests cost ${write:.3f} in write request units (one per proof, on",
        f"demand; a replay's failed condition is billed too) and about ${lambda_512:.3f} more",
        "Lambda duration at 512 MB (whole milliseconds; more under the CPU share).",
    ]


def _sizes_section(by_name: dict[str, Figure]) -> list[str]:
    """Init and decisions under each memory size's CPU share, what they bill and cost."""
    lines = [
        "## What a memory size costs: the runtime under Lambda's CPU share",
        "",
        "Lambda gives a function CPU in proportion to its memory (1,769 MB: one vCPU). Here the",
        "emulator and the runtime it starts run under that share of one core (a cgroup CPU",
        "quota), a new environment per run (init: best of the runs) and warm invokes each with",
        "a token never seen before (a signature checked: the most a decision costs; median).",
        "Billed: whole milliseconds, rounded up; init is billed. Cost: arm64, us-east-1, USD",
        f"({_prices()}). Lambda's own runtime adds about 1-2 ms billed to every invoke that the",
        "emulator does not show: read the warm column as what the handler adds to that floor.",
        "",
    ]
    if "sizes.unavailable" in by_name:
        return [*lines, f"Not measured on this machine: {by_name['sizes.unavailable'].note}.", ""]
    memories = sorted({int(name.split(".")[1]) for name in by_name if name.startswith("sizes.")})
    lines += [
        "| memory | handler | init ms | billed init+first | first invoke ms | warm invoke ms"
        " | per 1M warm decisions | per 1,000 cold starts |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for memory in memories:
        for key, label in SIZES.items():
            if f"sizes.{memory}.{key}.init" not in by_name:
                continue
            init, first, warm = (
                by_name[f"sizes.{memory}.{key}.{m}"].micros / 1000
                for m in ("init", "first", "warm")
            )
            lines.append(
                f"| {memory} MB | {label} | {init:,.0f} | {billed_ms(init + first):,} ms"
                f" | {first:.2f} | {warm:.2f} | ${cost_per_million(warm, memory):.3f}"
                f" | ${1000 * cold_start_cost(init, first, memory):.4f} |"
            )
    return [*lines, ""]


def _prices() -> str:
    return (
        f"${PRICES['lambda_request'] * 1e6:.2f} per million requests,"
        f" ${PRICES['lambda_gb_second_arm64']:.10f} per GB-second"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny counts: the scripts run")
    parser.add_argument("--page", type=Path, help="write the Markdown page here")
    parser.add_argument("--record", action="store_true", help="record these figures as budgets")
    args = parser.parse_args(argv)
    figures = run_all(args.quick)
    if args.record:
        record(figures, [f.name for f in figures if not f.name.startswith(NOT_OURS)])
    problems = [] if args.quick else over_budget(figures, read_recorded())
    if args.page is not None:
        args.page.write_text(page(figures, problems))
    for figure in figures:
        print(f"{figure.name:28} {figure.ratio:7.2f}x  {figure.micros:12,.1f} us  {figure.note}")
    for problem in problems:
        print(f"bench: over budget: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
