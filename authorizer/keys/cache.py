"""The key cache: the issuer's keys, warm across invocations, refreshed with restraint.

Policy, in order of priority:

1. Fail closed. With no key set at all, or one older than
   ``fresh + max_stale`` seconds, :meth:`KeyCache.get` raises
   :class:`~authorizer.errors.KeysUnavailable`.
2. Never hammer the issuer. Fetches other than the first are at least
   ``cooldown`` seconds apart, however many unknown ``kid`` values arrive and
   however often the issuer fails.
3. Stay available. A failed refresh never wipes the cache: the last good set
   keeps serving (up to ``max_stale`` past its freshness) while the issuer is down.
4. Follow the issuer. A successful refresh replaces the set, so a key the
   issuer removed stops working.

Fetches are single-flight: one at a time per cache, and a request that needs
keys while a fetch is in flight waits for it (bounded by the fetch's own hard
deadline) instead of failing for want of keys, wherever the handler runs threaded.

Time comes from an injected monotonic clock, so tests drive it without sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import FetchError, KeysUnavailable, UnknownKid
from .fetch import JsonFetcher, url_problem
from .jwk import KeySet, VerificationKey, parse_key_set

Clock = Callable[[], float]


class KeySource(Protocol):
    """Where fresh key sets come from. ``load`` raises :class:`FetchError` on failure."""

    def load(self) -> KeySet: ...


@dataclass(slots=True)
class IssuerKeySource:
    """Load the issuer's keys, finding ``jwks_uri`` through OIDC discovery unless given.

    The discovered ``jwks_uri`` is remembered; it is looked up again only
    after a key-set fetch fails, in case the issuer moved it.
    """

    issuer: str
    discovery_uri: str
    fetcher: JsonFetcher
    jwks_uri: str | None = None
    pinned: bool = False

    @classmethod
    def create(
        cls,
        issuer: str,
        discovery_uri: str,
        fetcher: JsonFetcher,
        jwks_uri: str | None,
        *,
        discovered: str | None = None,
    ) -> IssuerKeySource:
        """``jwks_uri`` is configured (pinned); ``discovered`` was found by discovery earlier
        (a bundled key set's), used until a fetch from it fails, then looked up again."""
        if jwks_uri is not None:
            return cls(issuer, discovery_uri, fetcher, jwks_uri, pinned=True)
        return cls(issuer, discovery_uri, fetcher, discovered, pinned=False)

    def load(self) -> KeySet:
        uri, document = self.load_document()
        return parse_key_set(document, uri)

    def load_document(self) -> tuple[str, dict[str, Any]]:
        """The key-set URL and the key set as fetched, not yet parsed (``keys pin`` stores it)."""
        uri = self.jwks_uri or self._discover()
        try:
            return uri, self.fetcher.get_json(uri)
        except FetchError:
            if not self.pinned:
                self.jwks_uri = None
            raise

    def _discover(self) -> str:
        document = self.fetcher.get_json(self.discovery_uri)
        advertised = document.get("issuer")
        if advertised != self.issuer:
            raise FetchError(
                f"{self.discovery_uri} advertises issuer {advertised!r}, expected {self.issuer!r}"
            )
        uri = document.get("jwks_uri")
        if not isinstance(uri, str):
            raise FetchError(f"{self.discovery_uri} has no jwks_uri")
        problem = url_problem(uri)
        if problem is not None:
            raise FetchError(f"{self.discovery_uri}: jwks_uri {problem}")
        self.jwks_uri = uri
        return uri


@dataclass(frozen=True, slots=True)
class RefreshOutcome:
    """What one fetch attempt did, for logs and metrics."""

    ok: bool
    trigger: str  # "prefetch", "cold", "expired" or "unknown_kid"
    key_count: int
    detail: str
    seconds: float
    #: Keys the new set has that the one it replaced had not (0 for a first fetch or a failure).
    added: int = 0


class KeyCache:
    """Hold the current :class:`KeySet` and decide when to fetch a new one."""

    def __init__(
        self,
        source: KeySource,
        *,
        fresh_seconds: float,
        cooldown_seconds: float,
        max_stale_seconds: float,
        clock: Clock,
        on_refresh: Callable[[RefreshOutcome], None] = lambda outcome: None,
    ) -> None:
        self._source = source
        self._fresh = fresh_seconds
        self._cooldown = cooldown_seconds
        self._max_stale = max_stale_seconds
        self._clock = clock
        self._on_refresh = on_refresh
        self._keys: KeySet | None = None
        # The current set is fresh before this time, and usable for max_stale after it.
        self._fresh_until = 0.0
        self._attempted_at: float | None = None
        self._last_error = "no key set fetched yet"
        # Held while deciding on and running a fetch: fetches are single-flight.
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """True once a key set has been fetched (it may have gone stale since)."""
        return self._keys is not None

    def seed(self, keys: KeySet, *, age: float, fresh_seconds: float | None = None) -> None:
        """Start with ``keys``, fetched ``age`` seconds ago (a key set bundled in the artifact).

        It is fresh for ``fresh_seconds`` (default: as any fetched set) from its
        fetch, then refreshed and kept as the last good set like any other. No
        fetch counts as attempted, so an unknown ``kid`` may fetch at once.
        """
        fresh = self._fresh if fresh_seconds is None else fresh_seconds
        with self._lock:
            self._keys = keys
            self._fresh_until = self._clock() - age + fresh

    def prefetch(self) -> bool:
        """Fetch now (at init) unless a fresh set is held; report success, never raise."""
        with self._lock:
            now = self._clock()
            if self._keys is not None and now < self._fresh_until:
                return True  # a bundled set: nothing to fetch yet
            return self._refresh(now, "prefetch")

    def expire(self) -> None:
        """Treat the current set as expired now, and allow a fetch at once.

        For a restored Lambda SnapStart snapshot: the set may be days old and
        the monotonic clock says nothing about that, so the next lookup fetches
        again (the old set still serves, within the stale limit, if that fails).
        """
        with self._lock:
            self._fresh_until = min(self._fresh_until, self._clock())
            self._attempted_at = None

    def get(self, kid: str) -> VerificationKey:
        """Return the key for ``kid``.

        Raises :class:`UnknownKid` when the set (after at most one allowed
        refresh) has no such key, and :class:`KeysUnavailable` when there is
        no set fresh enough to answer with.
        """
        now = self._clock()
        keys = self._keys
        if keys is not None and now < self._fresh_until:
            key = keys.get(kid)  # a fresh set: the common case, nothing to refresh
            if key is not None:
                return key
        with self._lock:  # waits for a fetch in flight, then decides with what it brought
            now = self._clock()
            if self._keys is None and self._may_fetch(now):
                self._refresh(now, "cold")
            else:
                self._refresh_if_expired(now)
            key = self._usable(now).get(kid)
            if key is None and self._may_fetch(now):
                self._refresh(now, "unknown_kid")
                key = self._usable(now).get(kid)
        if key is None:
            raise UnknownKid("no key with this kid in the issuer's key set")
        return key

    def get_cached(self, kid: str) -> VerificationKey | None:
        """The key for ``kid`` under the same freshness rules as :meth:`get`, or ``None``.

        Like :meth:`get` it refreshes an expired set (within the cooldown) and
        refuses a set past its stale limit, but an unknown ``kid`` never
        triggers a fetch here.
        """
        now = self._clock()
        keys = self._keys
        if keys is not None and now < self._fresh_until:
            return keys.get(kid)  # a fresh set: nothing to refresh, nothing too old
        with self._lock:
            now = self._clock()
            self._refresh_if_expired(now)
            if self._keys is None or self._too_old(now):
                return None
            return self._keys.get(kid)

    def _refresh_if_expired(self, now: float) -> None:
        if self._keys is not None and now >= self._fresh_until and self._may_fetch(now):
            self._refresh(now, "expired")

    def _may_fetch(self, now: float) -> bool:
        return self._attempted_at is None or now - self._attempted_at >= self._cooldown

    def _usable(self, now: float) -> KeySet:
        if self._keys is None:
            raise KeysUnavailable(f"no issuer keys available: {self._last_error}")
        if self._too_old(now):
            raise KeysUnavailable(f"cached issuer keys are too old to use: {self._last_error}")
        return self._keys

    def _too_old(self, now: float) -> bool:
        return now >= self._fresh_until + self._max_stale

    def _refresh(self, now: float, trigger: str) -> bool:
        self._attempted_at = now
        try:
            keys = self._source.load()
        except FetchError as exc:
            self._last_error = str(exc)
            self._report(False, trigger, 0, str(exc), now)
            return False
        before = self._keys
        added = 0 if before is None else len(keys.keys.keys() - before.keys.keys())
        self._keys = keys
        self._fresh_until = now + self._fresh
        self._report(True, trigger, len(keys.keys), "; ".join(keys.skipped), now, added=added)
        return True

    def _report(
        self, ok: bool, trigger: str, count: int, detail: str, started: float, *, added: int = 0
    ) -> None:
        seconds = self._clock() - started
        self._on_refresh(RefreshOutcome(ok, trigger, count, detail, seconds, added))
