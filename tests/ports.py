"""Ports for the servers tests start in child processes (an issuer, a provider, `serve`).

Picking a port with ``bind(0)`` and handing it to a child leaves a window in which
another process's ``bind(0)`` gets the same port: with the suite on two workers, that
happened. These ports come from below the kernel's ephemeral range, which ``bind(0)``
never hands out, from a block of its own per xdist worker, and never twice in one run.
"""

from __future__ import annotations

import itertools
import os
import socket

#: Below Linux's default ephemeral range (32768-60999): no bind(0) anywhere lands here.
FIRST = 20000
BLOCK = 2000
_given: set[int] = set()


def _block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    start = FIRST + BLOCK * (int(worker) if worker.isdigit() else 0)
    return range(start, start + BLOCK)


def child_port(count: int = 1) -> int:
    """A free port, and the ``count - 1`` after it, for a child process to listen on."""
    block = _block()
    for port in itertools.islice(block, 0, len(block) - count):
        wanted = range(port, port + count)
        if _given.intersection(wanted) or not all(_free(candidate) for candidate in wanted):
            continue
        _given.update(wanted)
        return port
    raise RuntimeError(f"no {count} free port(s) left in {block}")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
