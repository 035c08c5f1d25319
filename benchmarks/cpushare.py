"""Lambda's CPU share for a memory size, as a cgroup CPU quota on this machine.

Lambda gives a function CPU in proportion to its memory: 1,769 MB has the
equivalent of one vCPU (AWS's Lambda documentation, "Configuring memory"), so
128 MB has 7.2% of a core, 512 MB 28.9% and 1,024 MB 57.9%. A process added to a
:class:`CpuShare` gets that share of one core per 100 ms period (the kernel's
CFS quota), and so do the children it starts afterwards: add the emulator
before its first invoke and the runtime it starts runs under the quota too.

cgroup v1's ``cpu`` controller or cgroup v2's ``cpu.max``, which need root.
:func:`unavailable` says why neither can be used here; the caller then reports
that instead of a figure.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

FULL_CORE_MB = 1769
PERIOD_US = 100_000
_V1 = Path("/sys/fs/cgroup/cpu")
_V2 = Path("/sys/fs/cgroup")


def fraction(memory_mb: int) -> float:
    """The share of one core Lambda gives ``memory_mb`` (capped at one core: one is measured)."""
    return min(1.0, memory_mb / FULL_CORE_MB)


def _root() -> tuple[Path, bool] | None:
    """Where a quota can be set, and whether it is cgroup v2."""
    if (_V1 / "cpu.cfs_quota_us").exists() and os.access(_V1, os.W_OK):
        return _V1, False
    controllers = _V2 / "cgroup.controllers"
    v2_cpu = controllers.exists() and "cpu" in controllers.read_text().split()
    if v2_cpu and os.access(_V2, os.W_OK):
        return _V2, True
    return None


def unavailable() -> str | None:
    """Why no CPU quota can be set here, or None when one can."""
    if _root() is None:
        return "no writable cgroup cpu controller (root and cgroup v1 cpu or v2 cpu.max needed)"
    return None


class CpuShare:
    """A cgroup limited to ``memory_mb``'s share of one core, for the ``with`` block."""

    def __init__(self, memory_mb: int) -> None:
        found = _root()
        if found is None:
            raise RuntimeError(unavailable())
        self._root, self._v2 = found
        self.memory_mb = memory_mb
        self.path = self._root / f"apigw-bench-{memory_mb}-{os.getpid()}"

    def __enter__(self) -> CpuShare:
        self.path.mkdir(exist_ok=True)
        quota = int(fraction(self.memory_mb) * PERIOD_US)
        if self._v2:
            (self.path / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (self.path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (self.path / "cpu.cfs_quota_us").write_text(str(quota))
        return self

    def add(self, pid: int) -> None:
        """Run ``pid`` (and what it starts from now on) under the quota."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def throttled_ms(self) -> float:
        """How long the group's processes waited for their quota so far."""
        stat = dict(
            line.split() for line in (self.path / "cpu.stat").read_text().splitlines() if line
        )
        if self._v2:
            return int(stat.get("throttled_usec", 0)) / 1000
        return int(stat.get("throttled_time", 0)) / 1e6

    def __exit__(self, *exc: object) -> None:
        # Anything left (a runtime that outlived its stop) goes back to the parent group.
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (self._root / "cgroup.procs").write_text(pid)
        with contextlib.suppress(OSError):
            self.path.rmdir()
