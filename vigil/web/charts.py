"""The counts chart, drawn as SVG on the server: no charting library to ship, and the numbers
in the picture are the rows `Store.counts` returned (each series carries them in data-points,
which the browser tests read back)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#bcbd22", "#7f7f7f")
SPLITS = ("direction", "class")  # what a series is: name+direction, or name+class+direction


def series_key(row: dict, split: str) -> str:
    """'camera / name / [class /] direction' of a count row."""
    name = row.get("line") or row.get("zone") or "?"
    parts = [row["camera"], name] + ([row["class"]] if split == "class" else []) + [row["direction"]]
    return " / ".join(parts)


@dataclass
class Series:
    key: str
    points: dict[str, int] = field(default_factory=dict)  # bucket ISO -> count

    @property
    def total(self) -> int:
        return sum(self.points.values())


def group(rows: list[dict], split: str) -> list[Series]:
    """Count rows (with buckets) summed into series, largest total first."""
    out: dict[str, Series] = {}
    for r in rows:
        s = out.setdefault(series_key(r, split), Series(series_key(r, split)))
        s.points[r["bucket"]] = s.points.get(r["bucket"], 0) + r["count"]
    return sorted(out.values(), key=lambda s: (-s.total, s.key))


def _nice_max(v: int) -> int:
    step = 1
    while step * 10 < v:
        step *= 10
    for m in (1, 2, 5, 10):
        if m * step >= v:
            return max(1, m * step)
    return v


def _label(iso: str, by: str) -> str:
    t = datetime.fromisoformat(iso)
    return t.strftime("%Y-%m-%d") if by in ("day", "week") else t.strftime("%m-%d %H:%M")


def svg(series: list[Series], by: str, width: int = 960, height: int = 320, max_markers: int = 1500) -> str:
    """A line chart, one polyline per series over the union of their buckets (a bucket a series
    has no row for is 0). Markers with tooltips only while there are few points."""
    if not series:
        return ""
    buckets = sorted({b for s in series for b in s.points}, key=datetime.fromisoformat)
    times = [datetime.fromisoformat(b).timestamp() for b in buckets]
    t0, t1 = times[0], times[-1] if times[-1] > times[0] else times[0] + 1
    step = _nice_max(-(-max(max(s.points.values()) for s in series) // 4))  # whole-number ticks
    top = 4 * step
    ml, mr, mt, mb = 56, 16, 12, 36
    pw, ph = width - ml - mr, height - mt - mb

    def x(t: float) -> float:
        return ml + pw * (t - t0) / (t1 - t0)

    def y(v: float) -> float:
        return mt + ph * (1 - v / top)

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="counts per {by}" '
           f'xmlns="http://www.w3.org/2000/svg">']
    for i in range(5):  # y grid and labels
        v = top * i / 4
        out.append(f'<line class="grid" x1="{ml}" x2="{width - mr}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                   f'<text class="tick" x="{ml - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    ticks = sorted({0, len(buckets) // 2, len(buckets) - 1})
    for i in ticks:
        anchor = "start" if i == 0 else "end" if i == len(buckets) - 1 else "middle"
        out.append(f'<text class="tick" x="{x(times[i]):.1f}" y="{height - 12}" text-anchor="{anchor}">'
                   f'{escape(_label(buckets[i], by))}</text>')
    markers = len(buckets) * len(series) <= max_markers
    for n, s in enumerate(series):
        color = PALETTE[n % len(PALETTE)]
        pts = " ".join(f"{x(t):.1f},{y(s.points.get(b, 0)):.1f}" for b, t in zip(buckets, times))
        data = escape(json.dumps(sorted(s.points.items())), quote=True)
        out.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="1.5" points="{pts}" '
                   f'data-series="{escape(s.key, quote=True)}" data-points="{data}"/>')
        if markers:
            for b, t in zip(buckets, times):
                if b in s.points:
                    out.append(f'<circle cx="{x(t):.1f}" cy="{y(s.points[b]):.1f}" r="2.5" fill="{color}">'
                               f'<title>{escape(s.key)} {escape(b)}: {s.points[b]}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def legend_colors(series: list[Series]) -> list[tuple[Series, str]]:
    return [(s, PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)]
