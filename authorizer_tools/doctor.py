"""`doctor`: check a configuration against its real issuer, and explain a token.

Each check prints one line, ``ok``, ``warn`` or ``FAIL``, in plain words. The
checks reuse the authorizer's own parsing (settings, key set, verification),
so what doctor accepts is what the authorizer accepts.
"""

from __future__ import annotations

import base64
import email.utils
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger, Metrics
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from authorizer.access.rules import Verdicts
from authorizer.config.bundledkeys import BundledKeys
from authorizer.config.issuers import IssuerSettings
from authorizer.config.resource import ResourceSettings
from authorizer.config.rulesfile import VARIABLE as RULES_VARIABLE
from authorizer.config.settings import Settings, load_settings
from authorizer.errors import ConfigError, FetchError
from authorizer.keys.fetch import HttpFetcher, url_problem
from authorizer.keys.jwk import KeySet, parse_key_set
from authorizer.pipeline import Authorizer

from .environ import temporary_environment
from .eventgen import add_headers, make_event
from .pasted import explain


class Report:
    def __init__(self) -> None:
        self.failed = False

    def ok(self, text: str) -> None:
        print(f"ok    {text}")

    def warn(self, text: str) -> None:
        print(f"warn  {text}")

    def fail(self, text: str) -> None:
        self.failed = True
        print(f"FAIL  {text}")


@dataclass(frozen=True)
class Presented:
    """What a client sends: the token and, if it is bound, its DPoP proof or certificate."""

    token: str
    proof: str | None = None  # the DPoP header
    method: str = "GET"
    url: str | None = None  # where the request went (the proof's htu should say so)
    certificate: str | None = None  # the client certificate, PEM (mutual TLS)

    def event(self) -> dict[str, Any]:
        """The request as an HTTP API REQUEST event; a TOKEN event when only the token is known."""
        if self.proof is None and self.certificate is None and self.url is None:
            return make_event("rest_token", f"Bearer {self.token}")
        scheme = "DPoP" if self.proof is not None else "Bearer"
        event = make_event("http_v2", f"{scheme} {self.token}", method=self.method)
        if self.url is not None:
            parts = urlsplit(self.url)
            event["requestContext"]["domainName"] = parts.netloc
            event["rawPath"] = parts.path or "/"
        if self.proof is not None:
            add_headers(event, {"DPoP": self.proof})
        if self.certificate is not None:
            event["requestContext"]["authentication"] = {
                "clientCert": {"clientCertPem": self.certificate}
            }
        return event


def run_doctor(
    env: dict[str, str],
    presented: Presented | None,
    routes: Callable[[Settings], list[str]] | None = None,
) -> bool:
    """Run every check; True when nothing failed.

    ``routes`` names the template's routes whose cached answers the route rules
    would split (:func:`authorizer_tools.sharedanswers.template_check`).
    """
    report = Report()
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        report.fail(f"configuration: {exc}")
        return False
    usable = True
    for issuer in settings.issuers:
        report.ok(
            f"configuration: issuer {issuer.issuer} ({issuer.provider}), audiences "
            f"{', '.join(issuer.audiences)}, algorithms {', '.join(issuer.algorithms)}"
        )
        if issuer.template is not None:
            template = issuer.template
            tenants = (
                "any tenant" if template.tenants is None else ", ".join(sorted(template.tenants))
            )
            claim = template.tenant_claim or "no claim (JWT_TENANT_CLAIM)"
            report.ok(f"  issuer template: tenants {tenants}; tenant also named by {claim}")
        if issuer.binding.constraint != "bearer":
            store = settings.dpop.replay_store or "in memory, per execution environment"
            report.ok(
                f"sender-constrained tokens: {issuer.binding.constraint}; DPoP proofs up to"
                f" {settings.dpop.max_age_seconds} s old, used proofs kept {store}; API"
                " Gateway's authorizer cache must be off (AuthorizerCacheSeconds=0)"
            )
        usable = _check_issuer(issuer, settings, report) and usable
    if settings.resource is not None:
        _resource(settings.resource, presented, report)
    rules = settings.route_rules
    if rules is not None:
        default = "allowed" if rules.default_allow else "denied"
        report.ok(f"route rules: {len(rules.routes)} rule(s); routes none matches: {default}")
        for line in routes(settings) if routes is not None else ():
            report.warn(line)
    elif env.get(RULES_VARIABLE, "").strip():
        report.ok("route rules: none in the rules file: every route is allowed to a valid token")
    if usable and presented is not None:
        _explain(presented, settings, report)
    return not report.failed


def _resource(resource: ResourceSettings, presented: Presented | None, report: Report) -> None:
    """The protected resource: tokens must name it in aud; the URL called must be under it."""
    report.ok(
        f"protected resource: {resource.resource} (every token's aud must name exactly this);"
        f" metadata at {resource.metadata_url}"
    )
    url = presented.url if presented is not None else None
    if url is not None and not _under(url, resource.resource):
        report.warn(
            f"the request went to {url}, which is not under the resource {resource.resource}:"
            " a client that finds the resource through the metadata will ask for tokens for"
            " the resource, and MCP clients refuse metadata whose resource is not a prefix of"
            " the URL they call (RFC 9728 section 3.3)"
        )


def _under(url: str, resource: str) -> bool:
    """Whether ``url`` is ``resource`` or below it, path segment by path segment."""
    base = urlsplit(resource)
    called = urlsplit(url)
    if (called.scheme, called.netloc.lower()) != (base.scheme, base.netloc):
        return False
    prefix = base.path.rstrip("/")
    return called.path == prefix or called.path.startswith(f"{prefix}/") or not prefix


def _check_issuer(issuer: IssuerSettings, settings: Settings, report: Report) -> bool:
    """Discovery, key set, clock and algorithms of one issuer; False if it cannot be used."""
    jwks_uri, date = _discovery(issuer, settings, report)
    if jwks_uri is None:
        return False
    keys, jwks_date = _key_set(jwks_uri, settings, report)
    _clock(date or jwks_date, settings, report)
    if issuer.bundled_keys is not None:
        _bundled(issuer.bundled_keys, keys, settings, report)
    if keys is None:
        return False
    _algorithms(keys, issuer, report)
    return True


def _bundled(bundled: BundledKeys, live: KeySet | None, settings: Settings, report: Report) -> None:
    """How old the bundled set is, how long it serves, and whether the issuer still has its keys."""
    age = time.time() - bundled.fetched_at
    fresh = bundled.fresh_seconds or settings.jwks_cache_seconds
    state = "fresh" if age < fresh else "expired (a cold start fetches the keys again)"
    report.ok(
        f"bundled key set {bundled.source}: {len(bundled.keys.keys)} key(s), pinned"
        f" {_duration(age)} ago, fresh for {_duration(fresh)}: {state}"
    )
    if live is None:
        return
    gone = sorted(set(bundled.keys.keys) - set(live.keys))
    if gone:
        report.warn(
            f"bundled key set: the issuer no longer publishes {', '.join(gone)}: tokens signed"
            " with them are accepted until the bundled set expires; pin again (make keys)"
        )
    new = sorted(set(live.keys) - set(bundled.keys.keys))
    if new:
        report.ok(
            f"bundled key set: the issuer also publishes {', '.join(new)}"
            " (fetched when a token names it)"
        )
    if not gone and not new:
        report.ok("bundled key set: the same keys as the issuer publishes now")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _get(url: str, settings: Settings) -> tuple[dict[str, Any], str | None]:
    """GET a JSON document exactly as the authorizer does (its fetcher and limits), with Date."""
    return HttpFetcher(timeout=settings.jwks_fetch_timeout_seconds).get_json_dated(url)


def _discovery(
    issuer: IssuerSettings, settings: Settings, report: Report
) -> tuple[str | None, str | None]:
    if issuer.jwks_uri is not None:
        report.ok(f"key set URI set ({issuer.jwks_uri}): discovery not used")
        return issuer.jwks_uri, None
    try:
        document, date = _get(issuer.discovery_uri, settings)
    except FetchError as exc:
        report.fail(f"discovery: {exc}")
        return None, None
    report.ok(f"discovery reachable: {issuer.discovery_uri}")
    if document.get("issuer") != issuer.issuer:
        report.fail(
            f"discovery names issuer {document.get('issuer')!r}, but the configured issuer is "
            f"{issuer.issuer!r}: they must be equal, character for character"
        )
        return None, date
    report.ok("discovery names the same issuer")
    uri = document.get("jwks_uri")
    if not isinstance(uri, str):
        report.fail("discovery: jwks_uri is missing")
        return None, date
    problem = url_problem(uri)
    if problem is not None:
        report.fail(f"discovery: jwks_uri {problem}")
        return None, date
    offered = document.get("id_token_signing_alg_values_supported")
    if isinstance(offered, list):
        report.ok(f"the issuer signs with: {', '.join(map(str, offered))}")
    if issuer.binding.constraint != "bearer":
        _dpop_offer(document.get("dpop_signing_alg_values_supported"), settings, report)
    return uri, date


def _dpop_offer(offered: object, settings: Settings, report: Report) -> None:
    """Whether the issuer binds tokens to DPoP keys the authorizer accepts (RFC 9449 5.1)."""
    if not isinstance(offered, list) or not offered:
        report.warn(
            "discovery lists no dpop_signing_alg_values_supported: the issuer may not issue"
            " DPoP-bound tokens (certificate-bound ones need mutual TLS at its token endpoint)"
        )
        return
    usable = [alg for alg in offered if alg in settings.dpop.algorithms]
    if not usable:
        report.fail(
            f"the issuer takes DPoP proofs signed with {', '.join(map(str, offered))}, none of"
            f" them in AUTHORIZER_DPOP_ALGORITHMS ({', '.join(settings.dpop.algorithms)})"
        )
        return
    report.ok(f"DPoP proofs the issuer and the authorizer both take: {', '.join(usable)}")


def _key_set(uri: str, settings: Settings, report: Report) -> tuple[KeySet | None, str | None]:
    try:
        document, date = _get(uri, settings)
        keys = parse_key_set(document, uri)
    except FetchError as exc:
        report.fail(f"key set: {exc}")
        return None, None
    report.ok(f"key set: {len(keys.keys)} usable signing key(s) at {uri}")
    for key in keys.keys.values():
        size = (
            f"RSA {key.key.key_size} bits"
            if isinstance(key.key, RSAPublicKey)
            else f"EC {key.crv}"
            if isinstance(key.key, EllipticCurvePublicKey)
            else f"OKP {key.crv}"
        )
        report.ok(f"  key {key.kid}: {size}, alg {key.alg or '(any of its family)'}")
    for skipped in keys.skipped:
        report.warn(f"  ignored: {skipped}")
    return keys, date


def _algorithms(keys: KeySet, issuer: IssuerSettings, report: Report) -> None:
    allowed = issuer.algorithms
    usable = [alg for alg in allowed if any(k.accepts(alg) for k in keys.keys.values())]
    if not usable:
        report.fail(f"no published key can verify any of JWT_ALGORITHMS ({', '.join(allowed)})")
        return
    report.ok(f"allowed algorithms with a key to verify them: {', '.join(usable)}")
    for key in keys.keys.values():
        if key.alg is not None and key.alg not in allowed:
            report.warn(
                f"key {key.kid} is for {key.alg}, which JWT_ALGORITHMS does not allow: "
                "tokens it signs will be refused"
            )


def _clock(date: str | None, settings: Settings, report: Report) -> None:
    if date is None:
        report.warn("the issuer sent no Date header: clock skew not checked")
        return
    try:
        server = email.utils.parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError):
        report.warn(f"unreadable Date header {date!r}: clock skew not checked")
        return
    skew = time.time() - server
    text = f"clock skew against the issuer: {skew:+.0f} s (leeway {settings.leeway_seconds} s)"
    if abs(skew) > max(settings.leeway_seconds, 1) + 1:
        report.fail(text)
    else:
        report.ok(text)


def _explain(presented: Presented, settings: Settings, report: Report) -> None:
    logger = Logger(
        service="doctor", level="ERROR", logger_handler=logging.StreamHandler(io.StringIO())
    )
    # Metrics would print their EMF documents to stdout, in the middle of the report.
    with temporary_environment(POWERTOOLS_METRICS_DISABLED="true"):
        authorizer = Authorizer(settings, logger=logger, metrics=Metrics(namespace="Doctor"))
    decision = authorizer.decide(presented.event())
    header, claims = _peek(presented.token)
    if decision.outcome == "allow" or decision.verdicts is not None:
        ttl = float(claims.get("exp", 0)) - time.time()
        report.ok(
            f"token: valid for this configuration (sub {claims.get('sub')!r}, "
            f"expires in {ttl:.0f} s)"
        )
        if decision.verdicts is not None:
            _routes(decision.verdicts, report)
        return
    if decision.outcome == "error":
        report.fail(f"token: could not be checked: {decision.message}")
        return
    check = decision.details.get("check")
    if check is not None:
        why = _why_unproven(
            decision.reason,
            check,
            message=decision.message,
            presented=presented,
            claims=claims,
            settings=settings,
        )
    else:
        why = _why(decision.reason, decision.message, header, claims, settings)
    why = explain(decision.reason, why, presented.token)
    report.fail(f"token: refused ({decision.reason}): {why}")


def _why_unproven(
    reason: str,
    check: str,
    *,
    message: str,
    presented: Presented,
    claims: dict[str, Any],
    settings: Settings,
) -> str:
    """A sender-constraint failure (DPoP, mutual TLS) in plain words, with what to do about it."""
    _, proof = _peek(presented.proof or "")
    bound = claims.get("cnf")
    cnf: dict[str, Any] = bound if isinstance(bound, dict) else {}
    max_age = settings.dpop.max_age_seconds
    explanations: dict[tuple[str, str], Callable[[], str]] = {
        ("dpop_missing", "scheme"): lambda: (
            "the token is DPoP-bound (cnf.jkt): the client must send it as"
            " 'Authorization: DPoP <token>' with a DPoP proof header"
            " (to check one here: --dpop PROOF --url URL --method METHOD)"
        ),
        ("dpop_missing", "policy"): lambda: (
            "the token is DPoP-bound (cnf.jkt) and JWT_SENDER_CONSTRAINT is bearer:"
            " set it to either (the template's SenderConstraint) to check its proofs"
        ),
        ("dpop_missing", "unbound"): lambda: (
            "JWT_SENDER_CONSTRAINT is dpop and this token is a plain bearer token (no cnf):"
            " the client must prove a key (a DPoP header) when it asks the provider for tokens"
        ),
        ("dpop_missing", "token_event"): lambda: message,
        ("dpop_missing", "header"): lambda: "the DPoP scheme was used, but no DPoP header was sent",
        ("dpop_invalid", "htu"): lambda: (
            f"the proof is for {proof.get('htu')!r}, but the request went to"
            f" {presented.url!r}: behind a custom domain, the proof must name the URL the client"
            " called (see the README's 'Sender-constrained tokens')"
        ),
        ("dpop_invalid", "htm"): lambda: (
            f"the proof is for method {proof.get('htm')!r}, the request is {presented.method}"
        ),
        ("dpop_invalid", "iat"): lambda: (
            f"the proof was made {time.time() - float(proof['iat']):.0f} s ago; a proof is"
            f" good for {max_age} s (AUTHORIZER_DPOP_MAX_AGE_SECONDS): the client must make"
            " a new proof for every request, and its clock must be right"
        ),
        ("dpop_invalid", "ath"): lambda: (
            "the proof was made for another access token (its ath is not this token's hash):"
            " after a refresh, proofs must name the new token"
        ),
        ("dpop_replay", "jti"): lambda: (
            "this proof was used before: every request needs a new proof (a new jti)"
        ),
        ("dpop_binding", "jkt"): lambda: (
            f"the proof is signed by another key than the one the token is bound to"
            f" (cnf.jkt {cnf.get('jkt')!r}): the client must sign proofs with the key it"
            " proved when it got the token"
        ),
        ("dpop_binding", "unbound"): lambda: (
            "a DPoP proof came with a token that is not DPoP-bound (no cnf.jkt):"
            " send it as Bearer, or have the client prove its key at the token endpoint"
        ),
        ("cert_binding", "certificate"): lambda: (
            "the token is bound to a client certificate (cnf x5t#S256) and the request"
            " carries none: API Gateway passes one only with mutual TLS on a custom domain"
            " (to check one here: --certificate FILE)"
        ),
        ("cert_binding", "x5t"): lambda: (
            f"the client certificate is not the one the token is bound to"
            f" (cnf x5t#S256 {cnf.get('x5t#S256')!r})"
        ),
    }
    explain = explanations.get((reason, check))
    try:
        return explain() if explain else message
    except (KeyError, TypeError, ValueError):
        return message


def _routes(verdicts: Verdicts, report: Report) -> None:
    """What the route rules make of the token: each rule, allowed or why not."""
    for rule, failure in zip(verdicts.rule_set.routes, verdicts.failures, strict=True):
        patterns = ", ".join(pattern.text for pattern in rule.patterns)
        if failure is None:
            report.ok(f"  {patterns}: allowed")
        else:
            report.warn(f"  {patterns}: denied ({failure.reason}: {failure})")
    if verdicts.rule_set.default_allow:
        report.ok("  any other route: allowed (default = allow)")
    else:
        report.ok("  any other route: denied (default = deny)")


def _why(
    reason: str, message: str, header: dict[str, Any], claims: dict[str, Any], settings: Settings
) -> str:
    now = time.time()
    by_name = {issuer.issuer: issuer for issuer in settings.issuers}
    issuer = by_name.get(str(claims.get("iss")), settings.issuers[0])
    explanations: dict[str, Callable[[], str]] = {
        "expired": lambda: (
            f"it expired {now - float(claims['exp']):.0f} s ago "
            f"(leeway {settings.leeway_seconds} s)"
        ),
        "wrong_audience": lambda: _wrong_audience(claims, issuer, settings),
        "wrong_issuer": lambda: (
            f"its iss is {claims.get('iss')!r}, but the configured issuers are "
            f"{', '.join(sorted(by_name))}"
        ),
        "unknown_kid": lambda: (
            f"its kid {header.get('kid')!r} is not in the issuer's key set "
            "(signed by another issuer, or with a withdrawn key)"
        ),
        "disallowed_algorithm": lambda: (
            f"its alg {header.get('alg')!r} is not in JWT_ALGORITHMS "
            f"({', '.join(issuer.algorithms)})"
        ),
        "bad_signature": lambda: (
            "the signature does not match the issuer's key: the token was "
            "altered, or signed by someone else under the same kid"
        ),
        "insufficient_scope": lambda: (
            f"{message} (it has: {claims.get('scope', claims.get('scp'))!r})"
        ),
        "unknown_tenant": lambda: (
            f"{message}: its iss is {claims.get('iss')!r}; if this tenant is a customer of"
            " yours, add it to JWT_TENANTS (the template's Tenants parameter)"
        ),
        "tenant_mismatch": lambda: _tenant_mismatch(claims, issuer),
    }
    explain = explanations.get(reason)
    try:
        return explain() if explain else message
    except (KeyError, TypeError, ValueError):
        return message


def _tenant_mismatch(claims: dict[str, Any], issuer: IssuerSettings) -> str:
    template = issuer.template
    claim = template.tenant_claim if template is not None else None
    in_iss = template.tenant_of(claims.get("iss")) if template is not None else None
    return (
        f"iss names tenant {in_iss!r} but {claim} is {claims.get(claim or '')!r}: a token"
        " spliced from two tenants, or JWT_TENANT_CLAIM names a claim this provider does not"
        " use for the tenant"
    )


def _wrong_audience(claims: dict[str, Any], issuer: IssuerSettings, settings: Settings) -> str:
    """Which audience the token names, which are accepted, and what a near miss is missing."""
    named = claims.get(issuer.audience_claim)
    text = (
        f"its {issuer.audience_claim} is {named!r}, but the accepted audiences are"
        f" {', '.join(issuer.audiences)}"
    )
    if settings.resource is None:
        return text
    resource = settings.resource.resource
    values = named if isinstance(named, list) else [named]
    for value in (value for value in values if isinstance(value, str)):
        if value.rstrip("/").lower() == resource.lower() or value == f"{resource}/":
            return (
                f"{text}: {value!r} differs from the resource only in its spelling (a trailing"
                " slash, or the case): aud is compared exactly, so the client must ask for"
                f" resource={resource} exactly as written (RFC 8707)"
            )
        if _under(resource, value) or _under(value, resource):
            return (
                f"{text}: the token is for {value!r}, another resource on the same host; the"
                f" client must ask the authorization server for resource={resource} (RFC 8707)"
            )
    return (
        f"{text}: this API is the protected resource {resource}; the client must ask the"
        f" authorization server for a token with resource={resource} (RFC 8707), and the"
        " authorization server must put it in aud"
    )


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The unverified header and payload, for explanations only."""

    def part(segment: str) -> dict[str, Any]:
        try:
            value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    pieces = token.split(".")
    if len(pieces) != 3:
        return {}, {}
    return part(pieces[0]), part(pieces[1])
