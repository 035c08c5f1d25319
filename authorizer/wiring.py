"""The authorizer's wiring: from validated settings to the parts the pipeline runs.

Everything here runs once, at cold start: one key cache and one verifier per
issuer, the issuer choice over them, the response shaper, and the optional
parts (the DPoP proof verifier and its replay store, the route-key reach of
simple responses), each built only where the configuration uses it, so that
a cold start at the defaults never imports the DPoP or rules modules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from .config.issuers import IssuerSettings
from .config.settings import Settings
from .gateway.challenges import Challenges
from .keys.cache import IssuerKeySource, KeyCache
from .keys.fetch import HttpFetcher, JsonFetcher
from .observe import Telemetry
from .respond import Responder
from .tokens.claimchecks import TokenClaims
from .tokens.verify import IssuerChoice, TokenVerifier

if TYPE_CHECKING:  # loaded by the rules file parser, only where access rules exist
    from .access.rules import SharedAnswers
    from .binding.dpop import ProofVerifier  # loaded only where an issuer takes DPoP proofs
    from .binding.replay import ReplayStore
    from .tokens.introspect import Introspector  # loaded only where an issuer introspects

#: One client key may hold 1/KEY_SHARE of the DPoP replay store (see replay.KeyQuota).
KEY_SHARE = 8


class TrustedIssuer(NamedTuple):
    """One issuer's settings, key cache and verifier: its keys verify only its tokens."""

    settings: IssuerSettings
    keys: KeyCache
    verifier: TokenVerifier


class Parts(NamedTuple):
    """What the pipeline runs, built once from the settings."""

    issuers: tuple[TrustedIssuer, ...]
    tokens: IssuerChoice[TrustedIssuer]
    responder: Responder
    shared: SharedAnswers | None
    proofs: ProofVerifier | None
    #: The issuer whose opaque tokens are introspected, and its introspector (None: none).
    opaque: tuple[TrustedIssuer, Introspector] | None


def assemble(
    settings: Settings,
    telemetry: Telemetry,
    *,
    fetcher: JsonFetcher | None,
    clock: Callable[[], float],
    monotonic: Callable[[], float],
    replay_store: ReplayStore | None,
) -> Parts:
    """Build every part the settings call for (``clock``: wall time; ``monotonic``: ages)."""
    fetcher = fetcher or HttpFetcher(timeout=settings.jwks_fetch_timeout_seconds)
    issuers = tuple(
        trust(
            settings, issuer, fetcher=fetcher, telemetry=telemetry, clock=clock, monotonic=monotonic
        )
        for issuer in settings.issuers
    )
    return Parts(
        issuers=issuers,
        tokens=IssuerChoice(
            [(trusted.settings.issuer, trusted.verifier, trusted) for trusted in issuers],
            settings.max_token_bytes,
            templates=[
                (trusted.settings.template, trusted.verifier, trusted)
                for trusted in issuers
                if trusted.settings.template is not None
            ],
        ),
        responder=Responder(
            simple_responses=settings.http_api_response == "simple",
            principal_claims=settings.principal_claims,
            usage_identifier_claim=settings.usage_identifier_claim,
            context=settings.context,
            route_rules=settings.route_rules,
            challenges=challenges(settings),
            tenants=any(issuer.template is not None for issuer in settings.issuers),
        ),
        shared=shared_answers(settings),
        proofs=proof_verifier(settings, clock, replay_store),
        opaque=introspector(settings, issuers, clock),
    )


def trust(
    settings: Settings,
    issuer: IssuerSettings,
    *,
    fetcher: JsonFetcher,
    telemetry: Telemetry,
    clock: Callable[[], float],
    monotonic: Callable[[], float],
) -> TrustedIssuer:
    """One issuer's key cache (seeded from its bundled key set, if any) and verifier."""
    bundled = issuer.bundled_keys
    source = IssuerKeySource.create(
        issuer.issuer,
        issuer.discovery_uri,
        fetcher,
        issuer.jwks_uri,
        discovered=bundled.jwks_uri if bundled is not None else None,
    )
    keys = KeyCache(
        source,
        fresh_seconds=settings.jwks_cache_seconds,
        cooldown_seconds=settings.jwks_refresh_cooldown_seconds,
        max_stale_seconds=settings.jwks_max_stale_seconds,
        clock=monotonic,
        on_refresh=functools.partial(telemetry.refresh, issuer.issuer),
    )
    if bundled is not None:
        age, fresh = clock() - bundled.fetched_at, bundled.fresh_seconds
        keys.seed(bundled.keys, age=age, fresh_seconds=fresh)
        telemetry.pinned_keys(
            issuer.issuer, age=age, fresh_seconds=fresh or settings.jwks_cache_seconds
        )
    verifier = TokenVerifier(
        keys=keys,
        algorithms=issuer.algorithms,
        claims=token_claims(settings, issuer),
        max_token_bytes=settings.max_token_bytes,
        clock=clock,
        leeway=settings.leeway_seconds,
        cache_size=settings.token_cache_size,
        required_typ=issuer.required_typ,
    )
    return TrustedIssuer(issuer, keys, verifier)


def introspector(
    settings: Settings, issuers: tuple[TrustedIssuer, ...], clock: Callable[[], float]
) -> tuple[TrustedIssuer, Introspector] | None:
    """The introspecting issuer's introspector (RFC 7662); the module loads only then."""
    trusted = next((t for t in issuers if t.settings.introspection is not None), None)
    if trusted is None or trusted.settings.introspection is None:
        return None
    from .tokens.introspect import IntrospectionSettings, Introspector  # noqa: PLC0415

    issuer, how = trusted.settings, trusted.settings.introspection
    introspection = IntrospectionSettings(
        issuer=issuer.issuer,
        endpoint=how.endpoint,
        discovery_uri=issuer.discovery_uri,
        client_id=how.client_id,
        client_secret=how.client_secret,
        auth_method=how.auth_method,
        audiences=frozenset(issuer.audiences),
        principal_claims=settings.principal_claims,
        leeway=settings.leeway_seconds,
        max_seconds=settings.introspection_cache_seconds,
        cache_size=max(settings.token_cache_size, 1),
    )
    fetcher = HttpFetcher(timeout=settings.jwks_fetch_timeout_seconds)
    return trusted, Introspector(introspection, fetcher, clock)


def shared_answers(settings: Settings) -> SharedAnswers | None:
    """Route-key reach for simple responses, where route rules and API Gateway's cache meet."""
    rules = settings.route_rules
    if rules is None or settings.http_api_response != "simple":
        return None
    if settings.simple_response_cache == "off":
        return None
    from .access.rules import SharedAnswers  # noqa: PLC0415 - loaded already, with the rules

    return SharedAnswers(rules, settings.simple_response_cache)


def proof_verifier(
    settings: Settings, clock: Callable[[], float], store: ReplayStore | None
) -> ProofVerifier | None:
    """The DPoP proof verifier, where an issuer's policy takes proofs (None: none does)."""
    if all(issuer.binding.constraint == "bearer" for issuer in settings.issuers):
        return None  # and the DPoP modules stay unloaded: a cold start pays nothing for them
    from .binding.dpop import ProofVerifier  # noqa: PLC0415 - see above
    from .binding.replay import KeyQuota, MemoryReplayStore, load_replay_store  # noqa: PLC0415

    dpop = settings.dpop
    if store is None and dpop.replay_store is not None:
        store = load_replay_store(dpop.replay_store, "AUTHORIZER_DPOP_REPLAY_STORE")
    if store is None and dpop.replay_table is not None:
        from .binding.replaytable import dynamodb_replay_store  # noqa: PLC0415 - boto3: see there

        store = dynamodb_replay_store(dpop.replay_table, "AUTHORIZER_DPOP_REPLAY_TABLE")
    return ProofVerifier(
        algorithms=dpop.algorithms,
        max_age=dpop.max_age_seconds,
        leeway=settings.leeway_seconds,
        clock=clock,
        replay=store or MemoryReplayStore(dpop.replay_cache_size),
        # One client key may hold an eighth of the store: filling it takes many clients.
        quota=KeyQuota(max(1, dpop.replay_cache_size // KEY_SHARE)),
    )


def token_claims(settings: Settings, issuer: IssuerSettings) -> TokenClaims:
    """The claim rules that make a token of ``issuer`` valid at all (failures: 401)."""
    return TokenClaims(
        issuer=issuer.issuer,
        audiences=frozenset(issuer.audiences),
        audience_claim=issuer.audience_claim,
        template=issuer.template,
        leeway=settings.leeway_seconds,
        principal_claims=settings.principal_claims,
        reject_id_tokens=issuer.reject_id_tokens,
        id_token_audiences=frozenset(issuer.id_token_audiences),
        token_use=issuer.token_use,
        access_token_id_claims=issuer.access_token_id_claims,
    )


def challenges(settings: Settings) -> Challenges | None:
    """The challenges of a protected resource (``AUTHORIZER_RESOURCE``), with its schemes."""
    if settings.resource is None:
        return None
    constraints = {issuer.binding.constraint for issuer in settings.issuers}
    return Challenges(
        metadata_url=settings.resource.metadata_url,
        bearer=constraints != {"dpop"},
        dpop_algorithms=settings.dpop.algorithms if constraints != {"bearer"} else None,
    )
