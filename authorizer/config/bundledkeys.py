"""Bundled key sets: an issuer's keys shipped in the artifact, so a cold start needs no network.

``python -m authorizer_tools keys pin`` (``make keys``) fetches each issuer's
discovery document and key set with the authorizer's own fetcher and checks,
and writes them to one JSON file::

    {"format": "apigw-oidc-authorizer/keys/1",
     "issuers": [{"issuer": "https://...", "jwks_uri": "https://...",
                  "fetched_at": 1796000000, "jwks": {"keys": [...]}}]}

``JWT_KEYS_FILE`` (or ``keys_file`` in an ``[[issuer]]`` table) names the file,
relative to the function's root like the rules file. At cold start the
issuer's entry becomes its first key set, as if fetched at ``fetched_at``: fresh
for ``JWT_KEYS_FILE_FRESH_SECONDS`` (default ``JWKS_CACHE_SECONDS``) from then,
then refreshed from the network as any set is, and kept as the last good set
within ``JWKS_MAX_STALE_SECONDS`` if the issuer is down. An unknown ``kid``
still refreshes at once. The file is checked as hostile input like a fetched
set (the same key filters), and every mistake fails the cold start naming the
file: no entry for the issuer, another ``jwks_uri`` than configured, a fetch
time in the future, or one older than ``JWT_KEYS_FILE_MAX_AGE_SECONDS`` when
that is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, FetchError
from ..keys.fetch import url_problem
from ..keys.jwk import KeySet, parse_key_set
from ..strictjson import NotAnObject, loads_object
from .sources import Document, read_source

FORMAT = "apigw-oidc-authorizer/keys/1"
MAX_FILE_BYTES = 1024 * 1024
#: A fetch time this far ahead of the clock is a broken file or clock, not skew.
MAX_CLOCK_AHEAD_SECONDS = 300


@dataclass(frozen=True, slots=True, kw_only=True)
class KeysFile:
    """Where an issuer's bundled key set is, and how long it may serve (the settings)."""

    where: str  # the setting and the source as written, for messages
    source: str  # a path (relative to the function root, or absolute), ssm:/name or s3://...
    fresh_seconds: float | None  # None: JWKS_CACHE_SECONDS
    max_age_seconds: float | None  # None: no limit


@dataclass(frozen=True, slots=True, kw_only=True)
class BundledKeys:
    """One issuer's key set from the bundled file, and when it was fetched (wall clock)."""

    source: str  # the setting and file, for messages
    jwks_uri: str
    fetched_at: float
    fresh_seconds: float | None  # None: JWKS_CACHE_SECONDS
    keys: KeySet
    document: Document  # the file, parameter or object as read (for a refresh to compare)


def read_bundled_keys(
    setting: KeysFile, *, issuer: str, jwks_uri: str | None, now: float
) -> BundledKeys:
    """``issuer``'s entry of the file; a :class:`ConfigError` naming the file if it is unusable."""
    where, max_age_seconds = setting.where, setting.max_age_seconds
    entries, document = _entries(where, setting.source)
    found = [
        entry for entry in entries if isinstance(entry, dict) and entry.get("issuer") == issuer
    ]
    if not found:
        named = ", ".join(repr(e.get("issuer")) for e in entries if isinstance(e, dict))
        raise ConfigError(f"{where} has no key set for issuer {issuer} (it has: {named or 'none'})")
    if len(found) > 1:
        raise ConfigError(f"{where} lists issuer {issuer} twice")
    entry = found[0]
    uri = entry.get("jwks_uri")
    if not isinstance(uri, str) or url_problem(uri) is not None:
        raise ConfigError(f"{where}: the jwks_uri of {issuer} is not an https:// URL")
    if jwks_uri is not None and uri != jwks_uri:
        raise ConfigError(f"{where}: {issuer}'s keys were fetched from {uri}, not {jwks_uri}")
    fetched_at = entry.get("fetched_at")
    if type(fetched_at) is not int:
        raise ConfigError(f"{where}: fetched_at of {issuer} must be a whole number of seconds")
    age = now - fetched_at
    if age < -MAX_CLOCK_AHEAD_SECONDS:
        raise ConfigError(
            f"{where}: {issuer}'s keys were fetched in the future ({-age:.0f}s ahead)"
        )
    if max_age_seconds is not None and age > max_age_seconds:
        raise ConfigError(
            f"{where}: {issuer}'s keys were fetched {age / 86400:.1f} days ago, more than the"
            f" {max_age_seconds:.0f}s allowed: pin them again (make keys) and redeploy"
        )
    jwks = entry.get("jwks")
    if not isinstance(jwks, dict):
        raise ConfigError(f"{where}: the jwks of {issuer} is not a JSON object")
    try:
        keys = parse_key_set(jwks, f"{where}: the key set of {issuer}")
    except FetchError as exc:
        raise ConfigError(str(exc)) from None
    return BundledKeys(
        source=where,
        jwks_uri=uri,
        fetched_at=fetched_at,
        fresh_seconds=setting.fresh_seconds,
        keys=keys,
        document=document,
    )


def _entries(where: str, source: str) -> tuple[list[Any], Document]:
    raw = read_source(source, MAX_FILE_BYTES, where)
    try:
        document = loads_object(raw)
    except NotAnObject:
        document = {}
    except ValueError as exc:
        raise ConfigError(f"{where}: not valid JSON: {exc}") from None
    if document.get("format") != FORMAT:
        raise ConfigError(f"{where}: not a key file written by `keys pin` (format {FORMAT})")
    entries = document.get("issuers")
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: 'issuers' must be a list")
    return entries, Document.of(source, raw)


def bundled_document(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The file's contents for ``entries`` (each: issuer, jwks_uri, fetched_at, jwks)."""
    return {"format": FORMAT, "issuers": entries}
