"""The Lambda entry point: module-level singletons and ``lambda_handler``.

The singletons live for the whole execution environment: settings are
validated once (a bad value fails the cold start, naming the variable) and the
key cache stays warm across invocations. Importing this module never fails
because the issuer is down: the prefetch at init only logs its failure.

The issuer's documents are asked for first of all, before the imports that take
most of a cold start, so that the round trips to the issuer pass during them
(:mod:`authorizer.keys.headstart`); the prefetch then takes the answers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .keys.headstart import HeadStart

HEAD_START = HeadStart.begin(os.environ)  # before the imports below: see the docstring

from aws_lambda_powertools import Logger, Metrics  # noqa: E402

from .config.settings import load_settings  # noqa: E402
from .keys.fetch import HttpFetcher  # noqa: E402
from .logformat import LeanFormatter  # noqa: E402
from .pipeline import SERVICE, Authorizer, AuthorizerUnavailable  # noqa: E402
from .reload import Reloader  # noqa: E402

if TYPE_CHECKING:  # only for annotations: not worth its import time at cold start
    from aws_lambda_powertools.utilities.typing import LambdaContext

__all__ = ["AUTHORIZER", "RELOADER", "Authorizer", "AuthorizerUnavailable", "lambda_handler"]


def create_authorizer(
    environ: Mapping[str, str],
    logger: Logger,
    metrics: Metrics,
    head_start: HeadStart | None = None,
) -> Authorizer:
    """Build the authorizer from the environment; raise ``ConfigError`` on a bad setting.

    With a ``head_start``, its key caches take the documents it fetched first.
    """
    settings = load_settings(environ)
    fetcher = None
    if head_start is not None:
        fetcher = head_start.serving(HttpFetcher(timeout=settings.jwks_fetch_timeout_seconds))
    return Authorizer(settings, logger=logger, metrics=metrics, fetcher=fetcher)


_SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE
logger = Logger(service=_SERVICE_NAME, logger_formatter=LeanFormatter())
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or SERVICE, service=_SERVICE_NAME
)

# Cold start: a ConfigError here fails the init with one message naming the variable.
AUTHORIZER = create_authorizer(os.environ, logger, metrics, HEAD_START)
if AUTHORIZER.settings.jwks_prefetch:
    AUTHORIZER.prefetch()
#: AUTHORIZER, or (AUTHORIZER_CONFIG_REFRESH_SECONDS) the one built from changed documents.
RELOADER = Reloader(AUTHORIZER, lambda: create_authorizer(os.environ, logger, metrics))


def _after_restore() -> None:
    RELOADER.current.after_restore()  # the authorizer in use then, reloaded or not


def _register_snapstart_hook() -> bool:
    """With Lambda SnapStart, refresh keys and caches after each restore; else do nothing."""
    try:
        from snapshot_restore_py import register_after_restore  # noqa: PLC0415
    except ImportError:  # not running under SnapStart (or not on Lambda at all)
        return False
    register_after_restore(_after_restore)
    return True


SNAPSTART = _register_snapstart_hook()


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Entry point named by ``Handler: authorizer.app.lambda_handler``.

    Every authorizer event (REST, HTTP API, WebSocket) is decided. An event without a
    ``type`` comes from a proxy integration, not an authorizer: the API routes its
    ``/.well-known/oauth-protected-resource`` path here, and gets the metadata (RFC 9728).

    The Lambda context goes into the log keys as Powertools' ``inject_lambda_context``
    puts it there (see :meth:`Telemetry.invocation`), at a tenth of its cost. The event
    is never logged, whatever ``POWERTOOLS_LOGGER_LOG_EVENT`` says: it holds the token.
    """
    authorizer = RELOADER.authorizer()  # one authorizer answers the whole request
    if _is_integration(event):
        return authorizer.metadata(event)  # the protected resource's well-known route
    authorizer.telemetry.invocation(context)
    return authorizer.handle(event)


def _is_integration(event: object) -> bool:
    """A proxy integration's event: no ``type`` (every authorizer event has one), no ARN."""
    return (
        isinstance(event, dict)
        and "type" not in event
        and "methodArn" not in event
        and "routeArn" not in event
        and ("httpMethod" in event or "rawPath" in event)
    )
