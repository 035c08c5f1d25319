"""A bounded cache of tokens that already verified, keyed by the token's exact bytes.

A token seen before skips parsing and the signature check, but never the
checks that can change with time or with the issuer's key set:

* an entry is used only while ``now < exp + leeway`` (``exp`` as verified);
* an entry remembers the key object that verified it, and is used only while
  the key cache still maps the token's ``kid`` to that same object, so a key
  removed or replaced by a refresh takes its tokens with it.

Entries are keyed by the SHA-256 digest of the token, so memory stays bounded
by the entry count whatever the token size; least recently used entries go first.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

if TYPE_CHECKING:
    from ..keys.jwk import VerificationKey

#: What the verifier keeps for a token (its :class:`~authorizer.tokens.verify.VerifiedToken`);
#: the cache never looks inside, so it needs nothing from the verifier.
T = TypeVar("T")


class Entry(NamedTuple, Generic[T]):
    token: T
    key: VerificationKey  # the key object that verified the token
    usable_until: float  # exp + leeway


class VerifiedTokenCache(Generic[T]):
    """At most ``size`` verified tokens (``size`` 0 disables the cache)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, Entry[T]] = OrderedDict()
        # The LRU bookkeeping is several steps; threads must not interleave them.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, digest: bytes) -> bool:
        return digest in self._entries

    @staticmethod
    def digest(token: str | bytes) -> bytes:
        """The cache key of ``token`` (the same for a token and its ASCII bytes)."""
        raw = token if isinstance(token, bytes) else token.encode("utf-8", "surrogatepass")
        return hashlib.sha256(raw).digest()

    def get(self, digest: bytes, now: float) -> Entry[T] | None:
        """The entry for ``digest`` if it is still within its time; expired entries are dropped."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if now >= entry.usable_until:
                del self._entries[digest]
                return None
            self._entries.move_to_end(digest)
            return entry

    def put(self, digest: bytes, entry: Entry[T]) -> None:
        if self._size == 0:
            return
        with self._lock:
            self._entries[digest] = entry
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def discard(self, digest: bytes) -> None:
        with self._lock:
            self._entries.pop(digest, None)
