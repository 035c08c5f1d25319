"""Environment variables set for the duration of a ``with`` block, then put back."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def temporary_environment(**values: str) -> Iterator[None]:
    """Set ``values`` in ``os.environ``; restore (or remove) each one afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
