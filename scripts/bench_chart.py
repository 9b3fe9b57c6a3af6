#!/usr/bin/env python3
"""Draw the spawn-and-join cost per task against N as an SVG, from measured numbers.

Reads the criterion medians of the `spawn_join` group
(target/criterion/spawn_join/<variant>/<N>/new/estimates.json, in nanoseconds per iteration
of N tasks) and, when present, the 100,000-task run of the `memory` bench
(target/bench-results/memory.csv, rows `scale_ns_per_task`). Writes
benchmarks-spawn-join.svg next to BENCHMARKS.md.

Usage, from the repository root after `cargo bench --bench spawn_join --bench memory`:

    python3 scripts/bench_chart.py [--target DIR] [--out FILE]

Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

VARIANTS = [
    # (criterion id, memory.csv variant, label, colour)
    ("ractor_scope", "ractor_scope", "ractor-scope scope", "#d62728"),
    ("bare_ractor", "bare_ractor", "bare ractor actors", "#1f77b4"),
    ("tokio_joinset", "tokio", "tokio JoinSet", "#2ca02c"),
]

WIDTH, HEIGHT = 720, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 200, 50, 60


def criterion_points(target: Path, variant: str) -> list[tuple[int, float]]:
    """Returns (N, median ns per task) for every N criterion measured for `variant`."""
    points = []
    base = target / "criterion" / "spawn_join" / variant
    if not base.is_dir():
        return points
    for entry in base.iterdir():
        estimates = entry / "new" / "estimates.json"
        if not entry.name.isdigit() or not estimates.is_file():
            continue
        n = int(entry.name)
        median_ns = json.loads(estimates.read_text())["median"]["point_estimate"]
        points.append((n, median_ns / n))
    return sorted(points)


def scale_points(target: Path) -> dict[str, tuple[int, float]]:
    """Returns the 100,000-task wall time per task of each variant from memory.csv."""
    path = target / "bench-results" / "memory.csv"
    points: dict[str, tuple[int, float]] = {}
    if not path.is_file():
        return points
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            if row["measure"] == "scale_ns_per_task":
                points[row["variant"]] = (int(row["n"]), float(row["value"]))
    return points


def log_ticks(low: float, high: float) -> list[float]:
    """Returns the powers of ten and their 2x and 5x multiples between `low` and `high`."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for factor in (1, 2, 5):
            value = factor * 10**exponent
            if low <= value <= high:
                ticks.append(value)
    return ticks


def format_n(n: float) -> str:
    return f"{int(n):,}"


def format_ns(ns: float) -> str:
    if ns >= 1000:
        return f"{ns / 1000:g} µs"
    return f"{ns:g} ns"


def draw(series, scale, out: Path) -> None:
    all_points = [p for *_, points in series for p in points] + list(scale.values())
    if not all_points:
        sys.exit("no measurements found: run `cargo bench --bench spawn_join` first")
    n_low = 10 ** math.floor(math.log10(min(n for n, _ in all_points)))
    n_high = 10 ** math.ceil(math.log10(max(n for n, _ in all_points)))
    if n_high == n_low:
        n_high = n_low * 10
    y_low = 10 ** math.floor(math.log10(min(v for _, v in all_points)))
    y_high = 10 ** math.ceil(math.log10(max(v for _, v in all_points)))

    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(n: float) -> float:
        span = math.log10(n_high) - math.log10(n_low)
        return LEFT + (math.log10(n) - math.log10(n_low)) / span * plot_w

    def y(value: float) -> float:
        span = math.log10(y_high) - math.log10(y_low)
        return TOP + plot_h - (math.log10(value) - math.log10(y_low)) / span * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{LEFT}" y="24" font-size="15">Spawn and join: time per task against N '
        "(log scales)</text>",
    ]
    for tick in log_ticks(n_low, n_high):
        if math.log10(tick) % 1:
            continue
        parts.append(
            f'<line x1="{x(tick):.1f}" y1="{TOP}" x2="{x(tick):.1f}" y2="{TOP + plot_h}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{x(tick):.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">'
            f"{format_n(tick)}</text>"
        )
    for tick in log_ticks(y_low, y_high):
        parts.append(
            f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{LEFT + plot_w}" y2="{y(tick):.1f}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">'
            f"{format_ns(tick)}</text>"
        )
    parts.append(
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#333"/>'
    )
    parts.append(
        f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 16}" text-anchor="middle">'
        "N, tasks spawned and joined at once</text>"
    )
    parts.append(
        f'<text transform="translate(18 {TOP + plot_h / 2}) rotate(-90)" '
        'text-anchor="middle">time per task (criterion median / N)</text>'
    )

    legend_y = TOP + 10
    for _, memory_variant, label, colour, points in series:
        extra = scale.get(memory_variant)
        if points:
            path = " ".join(
                f"{'M' if i == 0 else 'L'}{x(n):.1f},{y(v):.1f}" for i, (n, v) in enumerate(points)
            )
            parts.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
            for n, v in points:
                parts.append(f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="3.5" fill="{colour}"/>')
        if extra:
            n, v = extra
            parts.append(
                f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="4.5" fill="white" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        lx = LEFT + plot_w + 14
        parts.append(
            f'<line x1="{lx}" y1="{legend_y}" x2="{lx + 20}" y2="{legend_y}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{lx + 26}" y="{legend_y + 4}">{label}</text>')
        legend_y += 20
    if scale:
        lx = LEFT + plot_w + 14
        parts.append(
            f'<circle cx="{lx + 10}" cy="{legend_y + 6}" r="4.5" fill="white" stroke="#555" '
            'stroke-width="2"/>'
        )
        parts.append(f'<text x="{lx + 26}" y="{legend_y + 10}">one timed run,</text>')
        parts.append(f'<text x="{lx + 26}" y="{legend_y + 24}">benches/memory</text>')
    parts.append("</svg>")
    out.write_text("\n".join(parts) + "\n")


def main() -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=root / "target", help="cargo target folder")
    parser.add_argument(
        "--out", type=Path, default=root / "benchmarks-spawn-join.svg", help="SVG file to write"
    )
    args = parser.parse_args()
    series = [
        (criterion_id, memory_variant, label, colour, criterion_points(args.target, criterion_id))
        for criterion_id, memory_variant, label, colour in VARIANTS
    ]
    draw(series, scale_points(args.target), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
