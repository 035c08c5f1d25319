"""`make bench`: this authorizer against the floor and the alternatives, as ratios.

    python -m authorizer_tools.bench [--quick] [--out FILE.md] [--svg FILE.svg]

Everything runs on this machine in one go, against a loopback issuer. Times
are the best of several rounds (the least disturbed by other work on a shared
machine) and are reported as ratios to the floor, a bare RSA-2048 PKCS#1 v1.5
signature check with ``cryptography`` over distinct messages. Verification
paths are measured with logging at WARNING and metrics off; the
default-observability figure is reported beside them.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import io
import json
import logging
import math
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aws_lambda_powertools
import cryptography
import jwt
import urllib3
from aws_lambda_powertools import Logger, Metrics
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from joserfc import jwk as jose_jwk
from joserfc import jwt as jose_jwt

from authorizer.handler import Authorizer
from authorizer.settings import load_settings
from authorizer_tools.check_artifact import build
from authorizer_tools.devissuer import DevIssuer
from authorizer_tools.environ import temporary_environment
from authorizer_tools.eventgen import make_event

ROOT = Path(__file__).resolve().parent.parent
AUDIENCE = "https://api.example.test"


@dataclass(frozen=True)
class Row:
    name: str
    micros: float  # per operation; for rows without a floor, a value in ``unit``
    floor: str  # the floor the ratio is taken against: "rsa", "ec", or "none"
    note: str = ""
    unit: str = "us"
    #: The floor measured in the same rounds as this row (ratios are taken against it).
    floor_micros: float | None = None


@dataclass(frozen=True)
class Sizes:
    iterations: int
    rounds: int
    slow_iterations: int
    flood: int
    memory_tokens: int
    cold_runs: int


FULL = Sizes(
    iterations=2000,
    rounds=7,
    slow_iterations=100,
    flood=10_000,
    memory_tokens=100_000,
    cold_runs=11,
)
QUICK = Sizes(iterations=40, rounds=2, slow_iterations=3, flood=200, memory_tokens=500, cold_runs=2)


def best_per_op(run: Callable[[], None], operations: int, rounds: int) -> float:
    """Microseconds per operation: the fastest of ``rounds`` runs of ``run``."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times) / operations * 1e6


#: The floors' own runs, registered by :func:`floors`: kind -> (run, operations).
_FLOOR_RUNS: dict[str, tuple[Callable[[], None], int]] = {}


def against_floor(
    name: str,
    run: Callable[[], None],
    operations: int,
    rounds: int,
    *,
    floor: str,
    note: str = "",
) -> Row:
    """A row whose floor is measured in the same rounds, alternating with ``run``.

    On a shared machine the speed drifts; a ratio of two measurements taken
    minutes apart measures the drift as much as the code.
    """
    floor_run, floor_ops = _FLOOR_RUNS[floor]
    own, base = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        floor_run()
        base.append((time.perf_counter() - started) / floor_ops)
        started = time.perf_counter()
        run()
        own.append((time.perf_counter() - started) / operations)
    return Row(name, min(own) * 1e6, floor, note, floor_micros=min(base) * 1e6)


def quiet_environment() -> contextlib.AbstractContextManager[None]:
    return temporary_environment(POWERTOOLS_METRICS_DISABLED="true")


def make_authorizer(
    issuer: Any,
    algorithms: str = "RS256,ES256",
    *,
    level: str = "WARNING",
    cache: int = 1024,
    stream: io.StringIO | None = None,
) -> Any:

    settings = load_settings(
        {
            "JWT_ISSUER": issuer.issuer,
            "JWT_AUDIENCE": AUDIENCE,
            "JWT_ALGORITHMS": algorithms,
            "AUTHORIZER_TOKEN_CACHE_SIZE": str(cache),
        }
    )
    handler = logging.StreamHandler(stream if stream is not None else io.StringIO())
    logger = Logger(service=f"bench-{level}-{random.random()}", level=level, logger_handler=handler)
    return Authorizer(settings, logger=logger, metrics=Metrics(namespace="Bench"))


# --- the floor and the alternatives ---------------------------------------------------


def floors(issuer: Any, sizes: Sizes) -> list[Row]:

    rows = []
    for kind, kid in (("rsa", _kid(issuer, "RS256")), ("ec", _kid(issuer, "ES256"))):
        private = issuer.keys[kid].private
        public = private.public_key()
        messages = [os.urandom(600) for _ in range(sizes.iterations)]
        if kind == "rsa":
            signatures = [private.sign(m, padding.PKCS1v15(), hashes.SHA256()) for m in messages]

            def check(m: bytes, s: bytes, public: Any = public) -> None:
                public.verify(s, m, padding.PKCS1v15(), hashes.SHA256())
        else:
            signatures = [private.sign(m, ec.ECDSA(hashes.SHA256())) for m in messages]

            def check(m: bytes, s: bytes, public: Any = public) -> None:
                public.verify(s, m, ec.ECDSA(hashes.SHA256()))

        pairs = list(zip(messages, signatures, strict=True))

        def run(pairs: list[tuple[bytes, bytes]] = pairs, check: Any = check) -> None:
            for message, signature in pairs:
                check(message, signature)

        name = (
            "floor: RSA-2048 PKCS#1 v1.5 verify" if kind == "rsa" else "floor: ECDSA P-256 verify"
        )
        rows.append(Row(name, best_per_op(run, len(pairs), sizes.rounds), kind))
        short = pairs[: max(1, len(pairs) // 4)]  # the alternating probe: a quarter batch
        _FLOOR_RUNS[kind] = (functools.partial(run, short), len(short))
    return rows


def alternatives(issuer: Any, tokens: Sequence[str], sizes: Sizes) -> list[Row]:

    kid = _kid(issuer, "RS256")
    public = issuer.keys[kid].private.public_key()
    options = {"audience": AUDIENCE, "issuer": issuer.issuer, "leeway": 60, "algorithms": ["RS256"]}

    def pyjwt() -> None:
        for token in tokens:
            jwt.decode(token, public, **options)

    client = jwt.PyJWKClient(issuer.jwks_uri)
    client.get_signing_key_from_jwt(tokens[0])

    def pyjwkclient() -> None:
        for token in tokens:
            jwt.decode(token, client.get_signing_key_from_jwt(token).key, **options)

    jose_key = jose_jwk.import_key(issuer.jwks()["keys"][0])
    registry = jose_jwt.JWTClaimsRegistry(
        leeway=60,
        iss={"essential": True, "value": issuer.issuer},
        aud={"essential": True, "value": AUDIENCE},
        exp={"essential": True},
    )

    def joserfc() -> None:
        for token in tokens:
            registry.validate(jose_jwt.decode(token, jose_key, algorithms=["RS256"]).claims)

    slow = tokens[: sizes.slow_iterations]

    def provider_sample() -> None:
        # The pattern of Authgear's backend guide: discovery and a new key client per request.
        for token in slow:
            discovery = issuer.discovery_uri
            with urllib.request.urlopen(discovery, timeout=5) as response:  # noqa: S310
                jwks_uri = json.load(response)["jwks_uri"]
            fresh = jwt.PyJWKClient(jwks_uri)
            jwt.decode(
                token,
                fresh.get_signing_key_from_jwt(token).key,
                audience=AUDIENCE,
                algorithms=["RS256"],
            )

    n = len(tokens)
    return [
        against_floor("PyJWT jwt.decode, key preloaded", pyjwt, n, sizes.rounds, floor="rsa"),
        against_floor("PyJWKClient + jwt.decode (warm)", pyjwkclient, n, sizes.rounds, floor="rsa"),
        against_floor(
            "joserfc jwt.decode + claims registry", joserfc, n, sizes.rounds, floor="rsa"
        ),
        Row(
            "provider sample: discovery + new PyJWKClient per request",
            best_per_op(provider_sample, len(slow), max(1, sizes.rounds // 3)),
            "rsa",
            "loopback issuer",
        ),
    ]


# --- this authorizer ------------------------------------------------------------------


def ours(issuer: Any, sizes: Sizes) -> list[Row]:

    rows = []
    for alg, floor in (("RS256", "rsa"), ("ES256", "ec")):
        kid = _kid(issuer, alg)
        batches = [
            [
                make_event("rest_token", f"Bearer {issuer.mint({'aud': AUDIENCE}, kid=kid)}")
                for _ in range(sizes.iterations)
            ]
            for _ in range(sizes.rounds)
        ]
        authorizer = make_authorizer(issuer)
        authorizer.prefetch()
        rounds = iter(batches)

        def first_seen(authorizer: Any = authorizer, rounds: Iterator[Any] = rounds) -> None:
            for event in next(rounds):  # each round its own never-seen tokens
                authorizer.handle(event)

        rows.append(
            against_floor(
                f"this authorizer, {alg}, token seen first",
                first_seen,
                sizes.iterations,
                sizes.rounds,
                floor=floor,
                note="full invocation: event in, response out",
            )
        )
        event = batches[0][0]

        def seen(authorizer: Any = authorizer, event: Any = event) -> None:
            for _ in range(sizes.iterations):
                authorizer.handle(event)

        rows.append(
            against_floor(
                f"this authorizer, {alg}, token seen before",
                seen,
                sizes.iterations,
                sizes.rounds,
                floor=floor,
            )
        )
    rows.append(_default_observability(issuer, sizes))
    return rows


def _default_observability(issuer: Any, sizes: Sizes) -> Row:

    kid = _kid(issuer, "RS256")
    batches = [
        [
            make_event("rest_token", f"Bearer {issuer.mint({'aud': AUDIENCE}, kid=kid)}")
            for _ in range(sizes.iterations)
        ]
        for _ in range(sizes.rounds)
    ]
    os.environ.pop("POWERTOOLS_METRICS_DISABLED", None)
    try:
        authorizer = make_authorizer(issuer, level="INFO")
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            authorizer.prefetch()
        rounds = iter(batches)

        def run() -> None:
            with contextlib.redirect_stdout(sink):  # EMF metric lines
                for event in next(rounds):
                    authorizer.handle(event)

        row = against_floor(
            "this authorizer, RS256, seen first, INFO log + metrics on",
            run,
            sizes.iterations,
            sizes.rounds,
            floor="rsa",
            note="default observability",
        )
    finally:
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    return row


def floods(issuer: Any, sizes: Sizes) -> list[Row]:

    authorizer = make_authorizer(issuer)
    authorizer.prefetch()
    before = issuer.fetches()
    forged = [
        make_event(
            "rest_token", "Bearer " + _unsigned({"alg": "RS256", "kid": os.urandom(8).hex()})
        )
        for _ in range(sizes.flood)
    ]
    junk = [
        make_event("rest_token", f"Bearer {os.urandom(24).hex()}.{os.urandom(8).hex()}")
        for _ in range(sizes.flood)
    ]

    def run(events: list[Any]) -> None:
        # A bare try/except, as the Lambda runtime catches the 401: a context
        # manager here would cost as much as a rejection itself.
        for event in events:
            try:
                authorizer.handle(event)
            except Exception:  # noqa: BLE001, S112 - every rejection raises "Unauthorized"
                continue

    started = time.perf_counter()
    run(forged)
    forged_micros = (time.perf_counter() - started) / len(forged) * 1e6
    kid_fetches = issuer.fetches() - before
    floor_run, floor_ops = _FLOOR_RUNS["rsa"]
    probe = best_per_op(floor_run, floor_ops, 3)  # the floor next to the one-off flood
    junk_row = against_floor(
        f"{sizes.flood} malformed tokens, per rejection",
        lambda: run(junk),
        len(junk),
        sizes.rounds,
        floor="rsa",
    )
    junk_fetches = issuer.fetches() - before - kid_fetches
    return [
        Row(
            f"{sizes.flood} tokens with random kids, per rejection",
            forged_micros,
            "rsa",
            f"{kid_fetches} key-set fetch(es), cooldown 30 s",
            floor_micros=probe,
        ),
        replace(junk_row, note=f"{junk_fetches} fetch(es)"),
    ]


# --- cold start, memory, size (in fresh processes) --------------------------------------

COLD_DEPENDENCIES = """
import time
started = time.perf_counter()
import jwt, jwt.algorithms, urllib3, cryptography.hazmat.primitives.asymmetric.rsa
from aws_lambda_powertools import Logger, Metrics
print((time.perf_counter() - started) * 1000)
"""

COLD_HANDLER = """
import json, sys, time
started = time.perf_counter()
from authorizer import app
imported = time.perf_counter()
if len(sys.argv) > 1:
    app.AUTHORIZER.handle(json.loads(sys.argv[1]))
print((imported - started) * 1000, (time.perf_counter() - started) * 1000)
"""


def cold_start(issuer: Any, sizes: Sizes) -> list[Row]:
    env = {
        **os.environ,
        "JWT_ISSUER": issuer.issuer,
        "JWT_AUDIENCE": AUDIENCE,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "PYTHONPATH": str(ROOT),
    }
    # Bytecode allowed and written on a first run, as the build ships it for Lambda.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    event = json.dumps(make_event("rest_token", f"Bearer {issuer.mint({'aud': AUDIENCE})}"))
    _python(COLD_HANDLER, {**env, "JWKS_PREFETCH": "false"})
    deps, bare, first = [], [], []
    for _ in range(sizes.cold_runs):
        deps.append(float(_python(COLD_DEPENDENCIES, env)))
        bare.append(float(_python(COLD_HANDLER, {**env, "JWKS_PREFETCH": "false"}).split()[0]))
        first.append(float(_python(COLD_HANDLER, env, event).split()[1]))
    dep, own, answered = (min(v) for v in (deps, bare, first))
    note = "best of fresh processes"
    return [
        Row("cold: import the dependencies", dep, "none", note, "ms"),
        Row(
            "cold: import authorizer.app, no prefetch",
            own,
            "none",
            f"{own - dep:+.1f} ms over the dependencies",
            "ms",
        ),
        Row(
            "cold: import with key prefetch + first request answered",
            answered,
            "none",
            "loopback issuer",
            "ms",
        ),
    ]


MEMORY = """
import os, resource, sys
sys.path.insert(0, sys.argv[1])
os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
from authorizer_tools.bench import make_authorizer
from authorizer_tools.check_artifact import build
from authorizer_tools.devissuer import DevIssuer
from authorizer_tools.eventgen import make_event
count, audience = int(sys.argv[2]), sys.argv[3]
with DevIssuer(algorithms=("EdDSA",)) as issuer:
    authorizer = make_authorizer(issuer, "EdDSA")
    authorizer.prefetch()
    for index in range(1000):  # warm up allocators and caches first
        authorizer.handle(make_event("rest_token", "Bearer " + issuer.mint({"aud": audience})))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for index in range(count):
        token = issuer.mint({"aud": audience, "sub": f"user-{index}"})
        authorizer.handle(make_event("rest_token", "Bearer " + token))
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, len(authorizer.verifier._cache))
"""


def memory(sizes: Sizes) -> list[Row]:
    output = _python(MEMORY, dict(os.environ), str(ROOT), str(sizes.memory_tokens), AUDIENCE)
    before, after, cached = (int(x) for x in output.split())
    growth_mb = (after - before) / 1024  # ru_maxrss is in KiB on Linux
    return [
        Row(
            f"memory: peak RSS growth over {sizes.memory_tokens} distinct tokens",
            growth_mb,
            "none",
            f"the bounded cache held {cached} tokens",
            "MB",
        )
    ]


def artifact_size() -> list[Row]:
    target = Path(tempfile.mkdtemp(prefix="artifact-"))
    try:
        build(target)
        unzipped = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        archive = target.with_suffix(".zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    bundle.write(path, path.relative_to(target))
        zipped = archive.stat().st_size
        archive.unlink()
    finally:
        shutil.rmtree(target, ignore_errors=True)
    return [
        Row("artifact (arm64, python3.13): unzipped", unzipped / 1e6, "none", "", "MB"),
        Row("artifact (arm64, python3.13): zipped", zipped / 1e6, "none", "", "MB"),
    ]


# --- report ---------------------------------------------------------------------------


def ratio_of(row: Row, rows: list[Row]) -> float:
    """``row`` as a multiple of its floor: the one measured beside it, else the floor's own row."""
    floors = {other.floor: other.micros for other in rows if other.name.startswith("floor")}
    return row.micros / (row.floor_micros or floors[row.floor])


def report(rows: list[Row]) -> str:
    lines = [
        "| measurement | value | x floor | note |",
        "|---|---:|---:|---|",
    ]
    for row in rows:
        value = f"{row.micros:,.1f} {row.unit}"
        if row.floor == "none":
            lines.append(f"| {row.name} | {value} | | {row.note} |")
            continue
        versus = "" if row.floor == "rsa" else " (vs ECDSA)"
        lines.append(f"| {row.name} | {value} | {ratio_of(row, rows):,.2f}{versus} | {row.note} |")
    return "\n".join(lines)


def machine() -> str:

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"cryptography {cryptography.__version__}, PyJWT {jwt.__version__}, "
        f"urllib3 {getattr(urllib3, '__version__', '?')}, "
        f"Powertools {aws_lambda_powertools.__version__}"
    )


def svg(rows: list[Row]) -> str:
    """A horizontal bar chart of the ratios to the floor, on a log scale."""

    bars = [
        (row.name, ratio_of(row, rows))
        for row in rows
        if row.floor != "none" and not row.name.startswith(("cold", "floor"))
    ]
    width, left, height = 900, 430, 26
    top = 40

    def scale(ratio: float) -> float:
        return (math.log10(max(ratio, 0.01)) + 2) / 5 * (width - left - 60)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{top + height * len(bars) + 40}" font-family="sans-serif" font-size="12">',
        '<text x="10" y="22" font-size="15">Time per request as a multiple of a bare '
        "signature check (log scale; lower is better)</text>",
    ]
    for index, (name, ratio) in enumerate(bars):
        y = top + index * height
        colour = "#2b8a3e" if name.startswith("this") else "#868e96"
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{_xml(name)}</text>')
        parts.append(
            f'<rect x="{left}" y="{y + 4}" width="{scale(ratio):.1f}" height="16" fill="{colour}"/>'
        )
        parts.append(f'<text x="{left + scale(ratio) + 6:.1f}" y="{y + 16}">{ratio:,.2f}x</text>')
    one = left + scale(1.0)
    parts.append(
        f'<line x1="{one:.1f}" x2="{one:.1f}" y1="{top}" '
        f'y2="{top + height * len(bars)}" stroke="#c92a2a" stroke-dasharray="4"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _kid(issuer: DevIssuer, alg: str) -> str:
    return next(kid for kid, key in issuer.keys.items() if key.alg == alg)


def _bearer_with_random_kid() -> str:
    return "Bearer " + _unsigned({"alg": "RS256", "kid": os.urandom(8).hex()})


def _unsigned(header: dict[str, Any]) -> str:

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    payload = {"iss": "x", "sub": "y", "aud": AUDIENCE, "iat": 1, "exp": 2}
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(os.urandom(256))]
    )


def _python(script: str, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark step failed: {result.stderr.strip().splitlines()[-1:]}")
    return str(result.stdout.strip().splitlines()[-1])


def run(sizes: Sizes, *, with_size: bool) -> list[Row]:

    with quiet_environment(), DevIssuer(algorithms=("RS256", "ES256")) as issuer:
        rs_kid = _kid(issuer, "RS256")
        tokens = [issuer.mint({"aud": AUDIENCE}, kid=rs_kid) for _ in range(sizes.iterations)]
        rows = floors(issuer, sizes)
        rows += alternatives(issuer, tokens, sizes)
        rows += ours(issuer, sizes)
        rows += floods(issuer, sizes)
        rows += cold_start(issuer, sizes)
    rows += memory(sizes)
    if with_size:
        rows += artifact_size()
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: check the harness")
    parser.add_argument("--no-size", action="store_true", help="skip building the artifact")
    parser.add_argument("--out", type=Path, help="write the report (Markdown) here")
    parser.add_argument("--svg", type=Path, help="write the ratio chart (SVG) here")
    options = parser.parse_args(argv)
    rows = run(QUICK if options.quick else FULL, with_size=not options.no_size)
    table = report(rows)
    print(table)
    if options.out:
        stamp = time.strftime("%Y-%m-%d")
        chart = f"\n![ratios]({options.svg.name})\n" if options.svg else ""
        options.out.write_text(
            f"# Benchmarks\n\nMeasured {stamp} with `make bench` on {machine()}.\n"
            "Verification paths: logging at WARNING, metrics off; best of several rounds.\n"
            "Each ratio is taken against the floor measured in the same rounds (a quarter\n"
            "batch of bare signature checks before each round), so that the machine's drift\n"
            "between measurements does not show up as a difference between them; the floor\n"
            "rows give the floors' own best.\n"
            f"{chart}\n{table}\n",
            encoding="utf-8",
        )
    if options.svg:
        options.svg.write_text(svg(rows), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
