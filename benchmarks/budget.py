"""The budgets: each figure's recorded ratio to its floor, and how far it may regress.

A figure fails its budget when its ratio exceeds the recorded one by more
than :data:`MARGIN`. The margin is wide because a 2-core shared machine
moves ratios by 10-15% between runs even with the floor measured alongside;
the budget catches a regression that matters (an extra signature check, a
second log line, a lost cache hit), not the noise. After an intended change,
``make bench RECORD=1`` records the new figures (and the page says so).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

from benchmarks.measure import Figure

#: How much worse than recorded a ratio may get before ``make bench`` fails.
MARGIN = 0.25
RECORDED = Path(__file__).with_name("recorded.json")


def read_recorded(path: Path = RECORDED) -> dict[str, float]:
    """Figure name to recorded ratio."""
    recorded: dict[str, float] = json.loads(path.read_text())
    return recorded


def record(figures: Iterable[Figure], names: Iterable[str], path: Path = RECORDED) -> None:
    """Write the ratios of the ``figures`` named in ``names`` as the new record."""
    wanted = set(names)
    chosen = {f.name: round(f.ratio, 3) for f in figures if f.name in wanted}
    path.write_text(json.dumps(chosen, indent=2, sort_keys=True) + "\n")


def over_budget(
    figures: Iterable[Figure], recorded: Mapping[str, float], margin: float = MARGIN
) -> list[str]:
    """One line per recorded figure that regressed past its budget, or is missing."""
    measured = {figure.name: figure.ratio for figure in figures}
    problems = []
    for name, ratio in sorted(recorded.items()):
        budget = ratio * (1 + margin)
        if name not in measured:
            problems.append(f"{name}: not measured (recorded {ratio:.2f}x)")
        elif measured[name] > budget:
            problems.append(
                f"{name}: {measured[name]:.2f}x the floor, over its budget of {budget:.2f}x"
                f" (recorded {ratio:.2f}x + {margin:.0%})"
            )
    return problems
