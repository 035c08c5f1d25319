"""Reading the rules and pinned key sets again, where ``AUTHORIZER_CONFIG_REFRESH_SECONDS`` asks.

Each execution environment reads its configuration documents at cold start. With a
refresh interval, the first request after each interval reads them again (an SSM
parameter or an S3 object costs that one request a round trip); when their bytes
changed (against the digests the settings recorded as they read them: nothing is
read twice at cold start), a new :class:`Authorizer` is built from them and serves the
requests that follow. A request is answered by one authorizer from start to end, so no decision
mixes two versions. A document that cannot be read, or that no longer checks out,
leaves the version in use in place: logged, and counted as ``ConfigRefreshFailures``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .config.bundledkeys import MAX_FILE_BYTES
from .config.sources import Document, read_source
from .errors import ConfigError
from .pipeline import Authorizer


def reread(documents: tuple[Document, ...]) -> tuple[Document, ...]:
    """The same documents as they are now; raises :class:`ConfigError` as a read would."""
    return tuple(
        Document.of(source, read_source(source, MAX_FILE_BYTES, source)) for source, _ in documents
    )


class Reloader:
    """The authorizer in use, rebuilt when its documents change (checked every interval)."""

    def __init__(
        self,
        current: Authorizer,
        build: Callable[[], Authorizer],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``build`` makes an authorizer from the configuration as it is now (a cold start's)."""
        self._current = current
        self._build = build
        self._clock = monotonic
        self._seconds = current.settings.refresh_seconds
        self._due = monotonic() + (self._seconds or 0)

    @property
    def current(self) -> Authorizer:
        """The authorizer in use, without checking anything."""
        return self._current

    def authorizer(self) -> Authorizer:
        """The authorizer for the next request: the one in use, or a new one if a check is due."""
        if self._seconds is None or self._clock() < self._due:
            return self._current
        self._due = self._clock() + self._seconds
        in_use = self._current.settings.documents  # with the digests of the bytes it was built from
        try:
            if reread(in_use) == in_use:
                return self._current
            rebuilt = self._build()
        except ConfigError as exc:
            self._current.telemetry.config_refresh_failed(str(exc))
            return self._current
        self._current = rebuilt
        rebuilt.telemetry.config_reloaded(
            tuple(document.source for document in rebuilt.settings.documents)
        )
        return rebuilt
