"""A head start for the key prefetch: the issuer's documents asked for before the imports.

A cold start imports for a long while under a small function's CPU share (PyJWT and
cryptography, Powertools, this project: half a second at 512 MB), and only then
fetched discovery and the key set: a connection, a TLS handshake and two GETs, each a
round trip to the issuer that the init waited out. Begun first, in a thread, those
waits pass during the imports instead of after them.

What it may do is narrow:

* it asks only for what the key cache's prefetch asks first, guessed from the
  environment in the common case (:func:`plan`): one plain issuer, prefetch on, no
  bundled key set. Any other case gets no head start;
* every URL it asks for passes the settings' own rule (:func:`.fetch.url_problem`);
  the key set's URL, read from the discovery document, too, only when that document
  names the configured issuer (the key cache's first check of it) and only in the
  scheme of the issuer's (``https``, or ``http`` on loopback for local work);
* its answers are GET answers by URL, each handed out once, for
  :data:`FRESH_SECONDS` after it arrived: the key cache takes them through
  :class:`PrimedFetcher` as if it had fetched them itself, and judges them as it
  judges any (the issuer they name, the key-set rules). A wrong guess costs a
  wasted request, never a wrong key;
* it can only help. Its fetches run while the imports take the CPU (fifty
  environments starting at once on two cores starved them past a 3 s deadline), so
  they may take up to :data:`FRESH_SECONDS`; the key cache waits for one no longer
  than for a fetch of its own (``JWKS_FETCH_TIMEOUT_SECONDS``), and a failure that
  came before the cache asked is not its answer: the cache fetches for itself;
* the thread imports nothing: all it runs is imported before it starts, because a
  module imported by two threads at once can be seen half made.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ..errors import FetchError
from .fetch import HttpFetcher, JsonFetcher, discovery_uri, url_problem

#: An answer not taken this soon after it arrived is dropped: it belongs to the init.
#: Also the deadline of the thread's own fetches (Lambda's init lasts 10 s at most).
FRESH_SECONDS = 10.0
_OFF = ("false", "0", "no", "off")
_Answer = dict[str, Any] | FetchError


def plan(environ: Mapping[str, str]) -> tuple[str, str | None] | None:
    """The prefetch's first URL, and the issuer if it is discovery; ``None``: no head start.

    Mirrors the settings only for the common case: one issuer in ``JWT_ISSUER``
    (no template, no tenants), prefetch on, no bundled key set (``JWT_KEYS_FILE``).
    """

    def value(name: str) -> str:
        return environ.get(name, "").strip()

    issuer = value("JWT_ISSUER")
    if (
        not issuer
        or "," in issuer
        or "{" in issuer
        or value("JWT_TENANTS")
        or value("JWT_KEYS_FILE")
        or value("JWKS_PREFETCH").lower() in _OFF
    ):
        return None
    jwks = value("JWT_JWKS_URI")
    url, named = (jwks, None) if jwks else (discovery_uri(issuer), issuer)
    return None if url_problem(url) or url_problem(issuer) else (url, named)


def _timeout(environ: Mapping[str, str]) -> float:
    """``JWKS_FETCH_TIMEOUT_SECONDS`` if it is one the settings accept, else their default."""
    try:
        seconds = float(environ.get("JWKS_FETCH_TIMEOUT_SECONDS", "").strip() or "3")
    except ValueError:
        return 3.0
    return seconds if 0.1 <= seconds <= 10.0 else 3.0  # the settings' bounds


class HeadStart:
    """Discovery and the key set, fetched in a thread begun at the top of the init."""

    def __init__(
        self,
        fetcher: HttpFetcher,
        wait: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``wait``: how long a caller waits for an answer (its own fetch's deadline)."""
        self._fetcher = fetcher
        self._wait = wait
        self._monotonic = monotonic
        self._answers: dict[str, tuple[_Answer, float]] = {}
        self._done = False
        self._changed = threading.Condition()

    @classmethod
    def begin(cls, environ: Mapping[str, str]) -> HeadStart | None:
        """Start fetching what :func:`plan` finds, or return ``None`` where it finds nothing."""
        planned = plan(environ)
        if planned is None:
            return None
        url, issuer = planned
        fetcher = HttpFetcher(timeout=FRESH_SECONDS)
        head = cls(fetcher, wait=_timeout(environ))
        thread = threading.Thread(target=head._run, args=(url, issuer), name="head-start")
        thread.daemon = True
        try:
            fetcher.prepare(url)  # every import the thread's fetches need, before it starts
            thread.start()
        except (OSError, RuntimeError):  # a trust store or a thread refused: no head start,
            return None  # and the prefetch meets (and reports) whatever it was on its own
        return head

    def serving(self, inner: JsonFetcher) -> PrimedFetcher:
        """A fetcher that answers from this head start where it can, and through ``inner`` else."""
        return PrimedFetcher(self, inner)

    def take(self, url: str) -> _Answer | None:
        """The answer for ``url``; ``None``: the caller fetches it itself.

        Waits while the answer may still come, no longer than the caller's own fetch
        could take; past that, the deadline's :class:`FetchError`, and no later call
        waits. A failure that came before the call is not the caller's answer.
        """
        with self._changed:
            asked = self._monotonic()
            while url not in self._answers and not self._done:
                remaining = asked + self._wait - self._monotonic()
                if remaining <= 0:
                    self._done = True  # given up on: no later fetch waits for it again
                    return FetchError(f"GET {url} exceeded the {self._wait:g}s deadline")
                self._changed.wait(remaining)
            answer, arrived = self._answers.pop(url, (None, 0.0))
        if answer is None or self._monotonic() - arrived > FRESH_SECONDS:
            return None
        if isinstance(answer, FetchError) and arrived < asked:
            return None  # it failed during the imports, maybe for want of CPU: ask again
        return answer

    def _run(self, url: str, issuer: str | None) -> None:
        """Fetch ``url``; if it is ``issuer``'s discovery document, the key set it names."""
        try:
            document = self._fetch(url)
            if issuer is not None and isinstance(document, dict):
                jwks = document.get("jwks_uri")
                if (
                    document.get("issuer") == issuer
                    and isinstance(jwks, str)
                    and _follows(url, jwks)
                ):
                    self._fetch(jwks)
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()

    def _fetch(self, url: str) -> _Answer:
        answer: _Answer
        try:
            answer = self._fetcher.get_json(url)
        except FetchError as exc:
            answer = exc
        with self._changed:
            self._answers[url] = (answer, self._monotonic())
            self._changed.notify_all()
        return answer


class PrimedFetcher:
    """The key cache's fetcher at a cold start: the head start's answers first, each once."""

    def __init__(self, head: HeadStart, inner: JsonFetcher) -> None:
        self._head = head
        self._inner = inner

    def get_json(self, url: str) -> dict[str, Any]:
        answer = self._head.take(url)
        if answer is None:
            return self._inner.get_json(url)
        if isinstance(answer, FetchError):
            raise answer
        return answer


def _follows(discovery: str, jwks: str) -> bool:
    """Whether the head start fetches the key set ``discovery`` names (``jwks``).

    In discovery's scheme only: for ``http`` (loopback), :meth:`HttpFetcher.prepare`
    imported what :func:`url_problem` needs to judge a host, which for ``https`` it
    does not (the thread may not import it).
    """
    return urlsplit(jwks).scheme == urlsplit(discovery).scheme and url_problem(jwks) is None
