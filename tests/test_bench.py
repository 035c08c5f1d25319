"""The benchmark harness runs end to end (tiny counts; timings are not asserted here)."""

from __future__ import annotations

from pathlib import Path

from authorizer_tools import bench


def test_the_benchmark_harness_produces_every_row(tmp_path: Path) -> None:
    out, chart = tmp_path / "bench.md", tmp_path / "bench.svg"
    assert bench.main(["--quick", "--no-size", "--out", str(out), "--svg", str(chart)]) == 0
    report = out.read_text()
    for row in (
        "floor: RSA-2048",
        "floor: ECDSA P-256",
        "PyJWT jwt.decode",
        "PyJWKClient",
        "joserfc",
        "provider sample",
        "RS256, token seen first",
        "RS256, token seen before",
        "ES256, token seen first",
        "INFO log + metrics on",
        "random kids",
        "malformed tokens",
        "cold: import the dependencies",
        "cold: import authorizer.app",
        "memory: peak RSS growth",
    ):
        assert row in report, row
    assert "0 fetch(es)" in report  # malformed tokens never reach the issuer
    svg = chart.read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "this authorizer, RS256, token seen first" in svg


def test_the_report_computes_ratios_against_the_matching_floor() -> None:
    rows = [
        bench.Row("floor: RSA", 10.0, "rsa"),
        bench.Row("floor: EC", 40.0, "ec"),
        bench.Row("a", 25.0, "rsa"),
        bench.Row("b", 20.0, "ec"),
        bench.Row("size", 3.5, "none", "", "MB"),
    ]
    table = bench.report(rows)
    assert "| a | 25.0 us | 2.50 |" in table
    assert "| b | 20.0 us | 0.50 (vs ECDSA) |" in table
    assert "| size | 3.5 MB | |" in table
