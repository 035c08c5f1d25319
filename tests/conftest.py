"""Shared fixtures: a real loopback issuer, a controllable clock, authorizer factories."""

from __future__ import annotations

import os

# Before anything imports authorizer.app: a valid configuration whose issuer is
# a closed loopback port, and no prefetch, so the import does no network work.
os.environ.setdefault("JWT_ISSUER", "http://127.0.0.1:9")
os.environ.setdefault("JWT_AUDIENCE", "https://api.example.test")
os.environ.setdefault("JWKS_PREFETCH", "false")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "AuthorizerTests")

import io
import itertools
import logging
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from aws_lambda_powertools import Logger, Metrics
from hypothesis import HealthCheck, settings

from authorizer.app import Authorizer
from authorizer.config.settings import load_settings
from authorizer.keys.fetch import HttpFetcher, JsonFetcher
from authorizer_tools.devissuer import issuer as devissuer
from authorizer_tools.devissuer.issuer import DevIssuer
from tests.aws import CREDENTIALS, moto_server
from tests.oidc import Provider

# Property tests: a small budget in `make test`, a long run in `make fuzz`.
settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "long", max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

AUDIENCE = "https://api.example.test"
START = 1_800_000_000.0


class FakeClock:
    """Wall and monotonic time in one, moved only by the test."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


#: Fixtures that start something pip alone does not install (npm's oidc-provider, moto's server).
NEEDS_MORE_THAN_PIP = frozenset({"provider", "aws_apis"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The folder says what a test checks, its fixtures what it needs.

    ``tests/deployment/`` checks deployment artefacts (``deployment``: run once, on one
    Python); a test using a fixture of :data:`NEEDS_MORE_THAN_PIP` is ``integration``
    (``make quick`` leaves both out), and so is one marked ``runtime_emulator``.
    """
    for item in items:
        if "deployment" in item.path.parent.parts[-1:]:
            item.add_marker(pytest.mark.deployment)
        if NEEDS_MORE_THAN_PIP & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("runtime_emulator"):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def key_pool() -> Iterator[None]:
    """Hand out pre-generated 2048-bit keys in rotation: RSA key generation dominates the suite.

    Keys still differ between the issuers of one test (the pool is larger than
    any test needs); other sizes are generated fresh.
    """
    generate = devissuer.generate_key
    pools: dict[str, itertools.cycle[devissuer.PrivateKey]] = {}

    def pooled(alg: str, rsa_bits: int = 2048) -> devissuer.PrivateKey:
        if rsa_bits != 2048:
            return generate(alg, rsa_bits)
        if alg not in pools:
            pools[alg] = itertools.cycle([generate(alg) for _ in range(8)])
        return next(pools[alg])

    devissuer.generate_key = pooled
    yield
    devissuer.generate_key = generate


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer() -> Iterator[DevIssuer]:
    with DevIssuer() as running:
        yield running


def env_for(issuer: DevIssuer, **overrides: str) -> dict[str, str]:
    env = {"JWT_ISSUER": issuer.issuer, "JWT_AUDIENCE": AUDIENCE}
    env.update(overrides)
    return env


def build_authorizer(
    issuer: DevIssuer,
    clock: FakeClock,
    *,
    log: io.StringIO | None = None,
    fetcher: JsonFetcher | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: str,
) -> Authorizer:
    """An authorizer configured for ``issuer``, with time driven by ``clock``.

    Log lines go to ``log`` when given (a fresh logger each time, since
    Powertools reuses the handlers of a logger with the same service name).
    """
    settings = load_settings(env_for(issuer, **{**(env or {}), **overrides}))
    service = f"authorizer-tests-{uuid.uuid4().hex[:8]}"
    handler = logging.StreamHandler(log if log is not None else io.StringIO())
    return Authorizer(
        settings,
        logger=Logger(service=service, logger_handler=handler),
        metrics=Metrics(namespace="AuthorizerTests", service="authorizer-tests"),
        fetcher=fetcher or HttpFetcher(timeout=settings.jwks_fetch_timeout_seconds),
        clock=clock,
        monotonic=clock,
    )


class LoopbackFetcher:
    """Real HTTP fetches, with a provider's public origin sent to a loopback issuer instead.

    Lets a test use issuer strings exactly as providers write them
    (``https://cognito-idp.<region>.amazonaws.com/<pool>``) while every request
    still goes over a socket to a :class:`DevIssuer` on 127.0.0.1.
    """

    def __init__(self, origins: Mapping[str, str], timeout: float = 3.0) -> None:
        self._origins = dict(origins)
        self._http = HttpFetcher(timeout=timeout)
        self.urls: list[str] = []

    def get_json(self, url: str) -> dict[str, Any]:
        self.urls.append(url)
        for origin, target in self._origins.items():
            if url.startswith(origin + "/"):
                url = target + url[len(origin) :]
                break
        return self._http.get_json(url)


def mint(issuer: DevIssuer, clock: FakeClock, **claims: Any) -> str:
    """A token valid at ``clock`` for the test audience; keyword claims override."""
    base: dict[str, Any] = {"aud": AUDIENCE}
    base.update(claims)
    return issuer.mint(base, now=clock.now)


@pytest.fixture(scope="module")
def aws_apis() -> Iterator[str]:
    """SSM Parameter Store and S3 on loopback (moto's server), for one module: its endpoint."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def aws(aws_apis: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """boto3 in this process pointed at :func:`aws_apis`, as the runtime's would be at AWS."""
    for name, value in {**CREDENTIALS, "AWS_ENDPOINT_URL": aws_apis}.items():
        monkeypatch.setenv(name, value)
    yield aws_apis


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """panva/oidc-provider on a loopback port, for the tests of one module."""
    running = Provider()
    running.start()
    try:
        yield running
    finally:
        running.stop()
