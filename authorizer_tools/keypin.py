"""`keys pin`: fetch each configured issuer's key set, as the authorizer would, and bundle it.

The issuers come from the authorizer's own settings (the template's
environment), read without their bundled key files (this writes them). Each
issuer's discovery document and key set are fetched with the authorizer's
fetcher and source (HTTPS only, size cap, strict JSON, the issuer checked
against discovery) and parsed with its key filters: a set the cold start would
refuse is refused here, before it ships. Issuers that name the same file (one
``JWT_KEYS_FILE`` for several) share it; ``--out`` puts every issuer in one file.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from authorizer.config.bundledkeys import KeysFile, bundled_document
from authorizer.config.settings import load_settings
from authorizer.config.sources import is_remote
from authorizer.config.values import function_root
from authorizer.errors import ConfigError
from authorizer.keys.cache import IssuerKeySource
from authorizer.keys.fetch import HttpFetcher
from authorizer.keys.jwk import parse_key_set


def pin_keys(environ: Mapping[str, str], out: Path | None) -> list[str]:
    """Fetch and write the key files; return one report line per issuer and per file.

    Raises :class:`ConfigError` for a configuration that names no file, and
    :class:`~authorizer.errors.FetchError` when an issuer's keys cannot be had.
    """
    settings = load_settings(environ, bundled_keys=False)
    files: dict[str, list[dict[str, Any]]] = {}
    lines: list[str] = []
    fetcher = HttpFetcher(timeout=settings.jwks_fetch_timeout_seconds)
    for issuer in settings.issuers:
        if out is not None:
            path = str(out)
        elif issuer.keys_file is not None:
            path = _local_file(issuer.keys_file)
        else:
            raise ConfigError(
                f"issuer {issuer.issuer} names no key file: set JWT_KEYS_FILE (the template's"
                " KeysFile parameter) or keys_file in its [[issuer]] table, or give --out"
            )
        source = IssuerKeySource.create(
            issuer.issuer, issuer.discovery_uri, fetcher, issuer.jwks_uri
        )
        uri, document = source.load_document()
        keys = parse_key_set(document, uri)  # what the cold start will accept, or an error now
        skipped = f"; dropped: {'; '.join(keys.skipped)}" if keys.skipped else ""
        lines.append(f"{issuer.issuer}: {len(keys.keys)} key(s) from {uri}{skipped}")
        entry = {"issuer": issuer.issuer, "jwks_uri": uri, "fetched_at": int(time.time())}
        files.setdefault(path, []).append({**entry, "jwks": document})
    for path, entries in files.items():
        _write(Path(path), bundled_document(entries))
        lines.append(f"wrote {path} ({len(entries)} issuer(s))")
    return lines


def _local_file(setting: KeysFile) -> str:
    """Where `keys pin` writes the file ``setting`` names: a path; a parameter or object is
    written by the user (``aws ssm put-parameter``, ``aws s3 cp``) from ``--out``."""
    if is_remote(setting.source):
        raise ConfigError(
            f"{setting.where}: keys pin writes files only: pin with --out FILE, then upload"
            " FILE to the parameter or object"
        )
    return os.path.join(function_root(), setting.source)  # an absolute path wins


def _write(path: Path, document: dict[str, Any]) -> None:
    """Write atomically: a build that fails halfway leaves the old file, not half a new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(partial, path)
