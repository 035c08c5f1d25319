"""Seen DPoP proofs: a proof's ``jti`` is accepted once (RFC 9449 section 11.1).

A proof stays acceptable until its ``iat`` falls out of the window, so its
identifier has to be remembered that long and no longer. :class:`ReplayStore`
is the interface; :class:`MemoryReplayStore` is the one this package ships, one
per Lambda execution environment. It cannot see what another environment
accepted: a proof replayed to a second, concurrent environment within the
window is accepted there once. A store shared by every environment (a
DynamoDB table with a conditional put and a TTL, ElastiCache ``SET NX PX``)
closes that gap; ``AUTHORIZER_DPOP_REPLAY_STORE`` names a factory for one.
"""

from __future__ import annotations

import heapq
import importlib
import threading
from typing import Protocol, runtime_checkable

from ..errors import ConfigError, ReplayStoreUnavailable


@runtime_checkable
class ReplayStore(Protocol):
    """Where accepted proofs are remembered until they expire."""

    def first_use(self, key: bytes, expires_at: float, now: float) -> bool:
        """Record ``key`` until ``expires_at``; True if it was not recorded (and unexpired) before.

        Must be atomic: of two concurrent calls with one key, one gets True.
        Raise :class:`~authorizer.errors.ReplayStoreUnavailable` when the answer
        is unknown (the request then fails with a 500, never an Allow).
        """
        ...


class MemoryReplayStore:
    """At most ``capacity`` unexpired keys, in this process; full means fail closed.

    Evicting an unexpired key would let its proof be replayed, so a full store
    refuses new proofs (500) until keys expire. Expired keys are dropped first.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._expiry: dict[bytes, float] = {}
        self._queue: list[tuple[float, bytes]] = []  # a heap by expiry
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._expiry)

    def first_use(self, key: bytes, expires_at: float, now: float) -> bool:
        with self._lock:
            self._drop_expired(now)
            if key in self._expiry:
                return False
            if len(self._expiry) >= self._capacity:
                raise ReplayStoreUnavailable(
                    f"the DPoP replay cache holds {self._capacity} unexpired proofs"
                    " (AUTHORIZER_DPOP_REPLAY_CACHE_SIZE)"
                )
            self._expiry[key] = expires_at
            heapq.heappush(self._queue, (expires_at, key))
            return True

    def _drop_expired(self, now: float) -> None:
        queue, expiry = self._queue, self._expiry
        # Each key has one heap entry: a key is added again only after it expired and was dropped.
        while queue and queue[0][0] <= now:
            _, key = heapq.heappop(queue)
            del expiry[key]


class KeyQuota:
    """At most ``limit`` unexpired proofs per client key in this environment.

    The replay store is shared by every client of the environment, and a full
    store refuses every new proof (500). Without a bound per key, the holder of
    one bound token could fill it alone and lock every other client out for the
    proof window; with it, filling the store takes many keys, that is, many
    clients' tokens.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._live: dict[str, list[float]] = {}  # key thumbprint -> a heap of expiries
        self._prune_at = 4 * limit  # keys held before expired ones are swept (then doubled)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Client keys counted now (expired ones included until a sweep)."""
        return len(self._live)

    def full(self, owner: str, now: float) -> bool:
        """Whether ``owner`` holds ``limit`` unexpired proofs (asked before the store is)."""
        with self._lock:
            heap = self._live.get(owner)
            while heap and heap[0] <= now:
                heapq.heappop(heap)
            return heap is not None and len(heap) >= self.limit

    def add(self, owner: str, expires_at: float, now: float) -> None:
        """Count a proof the store accepted (a replay, refused by the store, counts nothing)."""
        with self._lock:
            heapq.heappush(self._live.setdefault(owner, []), expires_at)
            if len(self._live) > self._prune_at:  # many keys seen once: drop the expired ones
                self._live = {key: heap for key, heap in self._live.items() if max(heap) > now}
                # Many live keys stay: the next sweep waits for twice as many, so that a busy
                # environment does not sweep on every proof (amortised once per key).
                self._prune_at = max(4 * self.limit, 2 * len(self._live))


def load_replay_store(spec: str, variable: str) -> ReplayStore:
    """The store made by the factory ``spec`` names (``package.module:callable``), called once.

    The module must be importable from the function (its code or a layer).
    Raises :class:`ConfigError` naming ``variable`` when it is not.
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"{variable} must be module:callable, got {spec!r}")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{variable}: cannot load {spec!r} ({exc})") from None
    store = factory() if callable(factory) else None
    if not isinstance(store, ReplayStore):
        raise ConfigError(f"{variable}: {spec!r} did not return a replay store (first_use)")
    return store
