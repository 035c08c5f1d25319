"""The regression benchmarks run end to end, and the budget check fails when it should.

Timings are not asserted here (they live in `make bench`); the counts are tiny.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import NOT_OURS
from benchmarks.budget import MARGIN, over_budget, read_recorded, record
from benchmarks.cpushare import fraction, unavailable
from benchmarks.measure import Figure, Floor, against_floor, read_figures, write_figures
from benchmarks.sizes import billed_ms, cost_per_million
from tests import ROOT


def figure(name: str, ratio: float) -> Figure:
    return Figure(name=name, micros=ratio * 20.0, floor_micros=20.0)


@pytest.mark.runtime_emulator
def test_every_benchmark_runs_and_the_page_shows_defaults_beside_the_peers(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--page", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert "| request | template defaults: INFO, metrics on | WARNING, metrics off |" in text
    for row in ("first seen", "same token again", "not a JWT", "never had", "PyJWT `jwt.decode`"):
        assert row in text, row
    assert "Powertools `auth_alpha` `JWTVerifier`" in text
    assert "provider sample" in text
    assert "0 key-set fetch(es)" in text  # the random-kid flood never reached the issuer
    measured = {line.split()[0] for line in done.stdout.splitlines()}
    # Every figure of ours has a budget; the peers' and the floors' are not ours to hold to one.
    assert set(read_recorded()) == {name for name in measured if not name.startswith(NOT_OURS)}
    for row in ("keys prefetched over HTTPS", "a bundled key set", "Powertools `auth_alpha`"):
        assert row in text, row
    assert "3 cold starts at once: 0 issuer request(s)" in text  # bundled: the issuer unasked
    # Each distinct opaque token was introspected once: the seen-before ones were not asked about.
    # The memory sizes: measured under a CPU quota where the machine allows one, else said why.
    if unavailable() is None:
        assert "| 512 MB | this authorizer, keys prefetched over HTTPS |" in text
        assert "| 512 MB | verify only: keys at init, `jwt.decode` |" in text
    else:
        assert f"Not measured on this machine: {unavailable()}" in text
    counted = re.search(r"(\d+) distinct tokens: (\d+) introspection request", text)
    assert counted is not None and counted[1] == counted[2] and int(counted[1]) > 1


def test_a_figure_over_its_recorded_ratio_plus_the_margin_fails_the_check() -> None:
    recorded = {"defaults.first_seen": 6.0, "quiet.junk": 0.5}
    within = [figure("defaults.first_seen", 6.0 * (1 + MARGIN) - 0.01), figure("quiet.junk", 0.1)]
    assert over_budget(within, recorded) == []
    over = [figure("defaults.first_seen", 6.0 * (1 + MARGIN) + 0.01), figure("quiet.junk", 0.5)]
    (problem,) = over_budget(over, recorded)
    assert problem.startswith("defaults.first_seen: 7.51x the floor, over its budget of 7.50x")


def test_a_recorded_figure_that_was_not_measured_fails_the_check() -> None:
    assert over_budget([], {"quiet.junk": 0.5}) == ["quiet.junk: not measured (recorded 0.50x)"]


def test_a_million_warm_decisions_cost_the_request_charge_and_whole_billed_milliseconds() -> None:
    # 0.3 ms bills 1 ms: at 1024 MB, 1e6 * (0.2e-6 + 0.001 * 1 * 0.0000133334) dollars.
    assert billed_ms(0.3) == 1 and billed_ms(1.01) == 2
    assert abs(cost_per_million(0.3, 1024) - (0.20 + 0.0133334)) < 1e-9
    assert abs(cost_per_million(1.5, 512) - (0.20 + 0.0133334)) < 1e-9  # 2 ms at half a GB


def test_the_cpu_share_of_a_memory_size_is_lambdas() -> None:
    assert round(fraction(128), 3) == 0.072 and round(fraction(1769), 3) == 1.0
    assert fraction(10240) == 1.0  # one core is what is measured


def test_recording_keeps_only_the_named_figures(tmp_path: Path) -> None:
    path = tmp_path / "recorded.json"
    record([figure("a", 1.23456), figure("peers.b", 2.0)], ["a"], path)
    assert read_recorded(path) == {"a": 1.235}


def test_a_figure_is_its_best_round_over_the_best_floor_of_the_same_rounds(tmp_path: Path) -> None:
    calls: list[int] = []

    def run() -> int:
        calls.append(1)
        return 10

    result = against_floor("x", run, Floor(checks=5), rounds=3)
    assert len(calls) == 3
    assert result.floor_micros > 0 and result.micros > 0
    assert result.ratio == result.micros / result.floor_micros
    write_figures(tmp_path / "f.json", [result])
    assert read_figures(tmp_path / "f.json") == [result]
