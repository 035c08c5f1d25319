"""`make demo`: the real handler, a real loopback issuer, the sample events, fresh tokens.

Starts an OpenID issuer on 127.0.0.1 (discovery + JWKS over HTTP, keys made in
memory), configures the authorizer for it through the environment exactly as
Lambda would, imports ``authorizer.app`` (cold start and key prefetch
included), then runs every event in ``events/`` with a set of tokens and
prints what API Gateway would do with each answer.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import urllib3

from .devissuer.issuer import DevIssuer
from .local.context import local_context
from .local.gateway import answer
from .samples import with_token

AUDIENCE = "https://api.example.test"
EVENTS = Path(__file__).resolve().parent.parent / "events"


def scenarios(issuer: DevIssuer, forger: DevIssuer) -> list[tuple[str, str | None]]:
    now = time.time()
    base = {"aud": AUDIENCE, "scope": "read:orders", "sub": "alice"}
    return [
        ("valid (RS256)", issuer.mint(base)),
        (
            "valid (ES256)",
            issuer.mint(base, kid=next(k for k in issuer.keys if k.startswith("es"))),
        ),
        ("expired", issuer.mint(base, now=now - 3600)),
        ("wrong audience", issuer.mint({**base, "aud": "https://other.example"})),
        ("missing scope", issuer.mint({**base, "scope": "profile"})),
        ("forged key", forger.mint({**base, "iss": issuer.issuer})),
        ("no token", None),
    ]


def outcome(call: Callable[[], dict[str, Any]], event: Any) -> str:
    """What API Gateway makes of the handler's answer to ``event``."""
    result = answer(call, event)
    if result.error is not None:
        return (
            "401 Unauthorized" if result.status == 401 else f"500 ({type(result.error).__name__})"
        )
    if "isAuthorized" in result.response:
        return "200 allowed" if result.status == 200 else "403 forbidden"
    allowed = f"200 allowed as {result.response['principalId']}"
    return allowed if result.status == 200 else "403 denied"


NO_TOKEN_NOTE = (
    "no token: API Gateway answers this 401 itself, without invoking the authorizer, when\n"
    "the identity source (the Authorization header) is missing; the rows show the\n"
    "authorizer's own answer, the same 401, for set-ups that invoke it anyway\n"
    "(REQUEST and WebSocket authorizers with caching off)."
)


def step(number: int, text: str) -> None:
    print(f"[{number}/5] {text}", flush=True)


def main() -> int:
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    step(1, "starting a local OpenID issuer on loopback (discovery + JWKS over HTTP)")
    with DevIssuer(algorithms=("RS256", "ES256")) as issuer:
        # A forger with its own key under the issuer's kid: only the signature differs.
        forger = DevIssuer(algorithms=())
        forger.add_key("RS256", kid=next(iter(issuer.keys)))
        print(f"      {issuer.issuer}  keys: {', '.join(issuer.keys)}")
        os.environ.update(
            JWT_ISSUER=issuer.issuer,
            JWT_AUDIENCE=AUDIENCE,
            JWT_ALGORITHMS="RS256,ES256",
            JWT_REQUIRED_SCOPES="read:orders",
            JWKS_REFRESH_COOLDOWN_SECONDS="1",  # so the rotation step below need not wait 30 s
            POWERTOOLS_LOG_LEVEL=os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
            POWERTOOLS_METRICS_DISABLED="true",
        )
        step(2, "cold start: importing the handler (settings checked, keys prefetched)")
        started = time.perf_counter()
        # Imported only now, after the environment is set: this is the cold start.
        from authorizer import app  # noqa: PLC0415

        print(f"      {(time.perf_counter() - started) * 1000:.0f} ms")
        samples = {
            path.stem: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(EVENTS.glob("*.json"))
        }
        cases = scenarios(issuer, forger)
        step(
            3,
            f"{len(samples) * len(cases)} requests: {len(samples)} event shapes x "
            f"{len(cases)} tokens, through the real lambda_handler",
        )

        def answer(kind: str, name: str, token: str | None) -> tuple[str, str, str, str]:
            event = with_token(samples[kind], token)
            reason = app.AUTHORIZER.decide(event).reason
            result = outcome(
                partial(app.lambda_handler, event, local_context("demo-request")), event
            )
            return kind, name, result, reason

        rows = [answer(kind, name, token) for kind in samples for name, token in cases]
        step(4, "key rotation: the issuer publishes a new key and withdraws the old ones")
        retired = issuer.mint({"aud": AUDIENCE, "scope": "read:orders", "sub": "alice"})
        new_kid = issuer.rotate("RS256")
        rotated = issuer.mint(
            {"aud": AUDIENCE, "scope": "read:orders", "sub": "alice"}, kid=new_kid
        )
        time.sleep(1.1)  # the refetch cooldown configured above
        for kind in samples:
            rows.append(answer(kind, "rotated key (new kid)", rotated))
            rows.append(answer(kind, "withdrawn key", retired))
        print()
        print_table(rows, colour)
        print(
            f"\n{len(rows)} requests; key set fetched {issuer.fetches()} time(s) "
            "(the prefetch, and once after the rotation)"
        )
        print(NO_TOKEN_NOTE)
        print()
        over_http(issuer)
        forger.stop()
    return 0


def over_http(issuer: DevIssuer) -> None:
    """A few requests over HTTP through `serve`: what a client of the APIs receives."""
    from .local.runtime import RuntimeFailure  # noqa: PLC0415
    from .local.server import serving  # noqa: PLC0415 - needs the runtime: only for this step
    from .local.template import read  # noqa: PLC0415
    from .sharedanswers import serve_warnings  # noqa: PLC0415

    step(5, "over HTTP: the template's APIs (serve), each function in the Lambda runtime")
    base = {"aud": AUDIENCE, "scope": "read:orders", "sub": "alice"}
    tokens = {
        "valid": issuer.mint(base),
        "expired": issuer.mint(base, now=time.time() - 3600),
        "missing scope": issuer.mint({**base, "scope": "profile"}),
    }
    parameters = {
        "Issuer": issuer.issuer,
        "Audience": AUDIENCE,
        "Algorithms": "RS256,ES256",
        "RequiredScopes": "read:orders",
    }
    http = urllib3.PoolManager(retries=False, timeout=30)
    try:
        with serving(
            # port=0: a port per API that the system chooses (a free port's neighbour, which
            # serve would take for the second API, may be in use).
            read(EVENTS.parent / "template.yaml"),
            parameters,
            {},
            port=0,
            log=_quiet,
            warnings=serve_warnings,
        ) as served:
            for api in ("RestApi", "HttpApi"):
                for name, token in tokens.items():
                    url = f"{served.url(api)}/whoami"
                    answer = http.request("GET", url, headers={"Authorization": f"Bearer {token}"})
                    body = answer.data.decode("utf-8", "replace")
                    shown = body if len(body) <= 60 else body[:57] + "..."
                    print(f"      {api:<8} GET /whoami  {name:<14} {answer.status}  {shown}")
    except RuntimeFailure as exc:
        print(f"      not run: {exc}")


def _quiet(line: str) -> None:
    return


def print_table(rows: list[tuple[str, str, str, str]], colour: bool) -> None:
    header = ("event", "token", "API Gateway answers", "reason")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(4)]
    print("  ".join(t.ljust(w) for t, w in zip(header, widths, strict=True)).rstrip())
    print("  ".join("-" * width for width in widths))
    for row in rows:
        cells = [value.ljust(width) for value, width in zip(row, widths, strict=True)]
        if colour:
            code = "32" if row[2].startswith("200") else "33" if row[2].startswith("403") else "31"
            cells[2] = f"\033[{code}m{cells[2]}\033[0m"
        print("  ".join(cells).rstrip())


if __name__ == "__main__":
    raise SystemExit(main())
