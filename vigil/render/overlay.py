"""Drawing what Vigil counts onto a frame: lines (A->B arrow, the "in" side shaded, name, live
in/out counts), zones (polygon, name, entries and occupancy), tracked boxes with class and
track id, and short traces.

Boxes, labels and traces are supervision's annotators (Vigil's `Detections` map straight onto
supervision's); lines and zones use supervision's drawing functions, because its
LineZoneAnnotator draws neither the in-side nor Vigil's A->B convention. Everything is drawn on
a copy; the same inputs always give the same pixels.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

import cv2
import numpy as np
import supervision as sv

from vigil.classes import DEFAULT_VOCAB, ClassVocab
from vigil.config.geometry import LineConfig, ZoneConfig
from vigil.config.site import CameraConfig
from vigil.types import CountEvent, Detections

LINE_COLOR = sv.Color.from_hex("#ffd400")
IN_SIDE_COLOR = sv.Color.from_hex("#00c853")
ZONE_COLOR = sv.Color.from_hex("#00b0ff")
PANEL_BG = sv.Color.from_hex("#202020")
WHITE = sv.Color.WHITE
IN_SIDE_DEPTH = 24    # pixels of shading on the in side of a line
TRACE_LENGTH = 15     # analysed frames a trace reaches back: a short tail, not a scribble
PANEL_SCALE = 0.5
PANEL_LINE_H = 18
PANEL_PAD = 6


def to_supervision(dets: Detections, vocab: ClassVocab = DEFAULT_VOCAB) -> sv.Detections:
    """Vigil's Detections as supervision's (same struct of arrays; class names in data)."""
    tracked = dets.tracker_id >= 0
    return sv.Detections(
        xyxy=dets.xyxy.astype(np.float32),
        confidence=dets.confidence,
        class_id=dets.class_id.astype(int),
        tracker_id=dets.tracker_id.astype(int) if tracked.all() and len(dets) else None,
        data={"class_name": np.array([vocab.name(c) for c in dets.class_id.tolist()], dtype=object)},
    )


@dataclass
class Tally:
    """Live counts from the events seen so far: per line in/out, per zone entries and exits
    (occupancy = entries - exits, as the counter's own occupancy)."""

    lines: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: {"in": 0, "out": 0}))
    zones: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: {"in": 0, "out": 0}))

    def add(self, events: Iterable[CountEvent]) -> None:
        for e in events:
            (self.lines if e.kind == "line" else self.zones)[e.name][e.direction] += 1


def in_side_band(line: LineConfig, depth: float = IN_SIDE_DEPTH) -> np.ndarray:
    """(4, 2) int polygon: the strip `depth` pixels wide along the line on its "in" side.
    Screen y points down, so the right-hand normal of A->B is (-dy, dx)."""
    a, b = (np.asarray(p, np.float64) for p in line.points)
    d = (b - a) / np.hypot(*(b - a))
    normal = np.array([-d[1], d[0]]) * (1 if line.in_side == "right" else -1)
    return np.round([a, b, b + normal * depth, a + normal * depth]).astype(np.int64)


def _text(scene: np.ndarray, text: str, x: float, y: float, color: sv.Color, scale: float = 0.5) -> None:
    sv.draw_text(scene, text, sv.Point(x, y), text_color=WHITE, text_scale=scale, text_thickness=1,
                 text_padding=4, background_color=color)


class Overlay:
    """One camera's overlay. Stateful only for traces: call `draw` once per analysed frame, in order."""

    def __init__(self, camera: CameraConfig, traces: bool = True, vocab: ClassVocab = DEFAULT_VOCAB,
                 typed: CameraConfig | None = None) -> None:
        self.camera = camera
        self.typed = typed or camera  # as the config writes it (relative, reference_size): the coordinates to type
        self.vocab = vocab  # the pipeline's class names, for the box labels
        lookup = sv.ColorLookup.TRACK
        self.boxes = sv.BoxAnnotator(thickness=2, color_lookup=lookup)
        self.labels = sv.LabelAnnotator(text_scale=0.4, text_padding=3, color_lookup=lookup)
        # bottom_center: the point that lines and zones test by default
        self.traces = sv.TraceAnnotator(position=sv.Position.BOTTOM_CENTER, trace_length=TRACE_LENGTH,
                                        thickness=2, color_lookup=lookup) if traces else None

    def draw(self, image: np.ndarray, tracks: Detections | None = None, tally: Tally | None = None,
             caption: str | None = None) -> np.ndarray:
        """A copy of `image` (BGR) with zones, lines, tracks and the counts panel drawn."""
        scene = image.copy()
        for zone in self.camera.zones:
            self._zone(scene, zone, tally)
        for line in self.camera.lines:
            self._line(scene, line, tally)
        if tracks is not None:
            self._tracks(scene, tracks)
        self.draw_panel(scene, tally, caption)
        return scene

    def _zone(self, scene: np.ndarray, zone: ZoneConfig, tally: Tally | None) -> None:
        poly = np.round(np.asarray(zone.polygon)).astype(np.int64)
        sv.draw_filled_polygon(scene, poly, ZONE_COLOR, opacity=0.2)
        sv.draw_polygon(scene, poly, ZONE_COLOR, thickness=2)
        x, y = poly.min(axis=0)
        label = zone.name
        if tally is not None:
            c = tally.zones[zone.name]
            label = f"{zone.name}: entered {c['in']} inside {c['in'] - c['out']}"
        _text(scene, label, x + 4, y + 10, ZONE_COLOR, 0.45)

    def _line(self, scene: np.ndarray, line: LineConfig, tally: Tally | None) -> None:
        sv.draw_filled_polygon(scene, in_side_band(line), IN_SIDE_COLOR, opacity=0.35)
        (ax, ay), (bx, by) = (tuple(int(round(v)) for v in p) for p in line.points)
        length = max(1.0, float(np.hypot(bx - ax, by - ay)))
        cv2.arrowedLine(scene, (ax, ay), (bx, by), LINE_COLOR.as_bgr(), 2, cv2.LINE_AA,
                        tipLength=min(0.5, 18 / length))
        # A and B sit just off the line on its "out" side, clear of the arrow and the shading
        off = in_side_band(line, -14)
        _text(scene, "A", off[3][0], off[3][1], LINE_COLOR, 0.4)
        _text(scene, "B", off[2][0], off[2][1], LINE_COLOR, 0.4)
        # the name sits on the in side's far edge, so it never hides the line itself
        mid = in_side_band(line, IN_SIDE_DEPTH + 10)[2:].mean(axis=0)
        if tally is None:
            label = f"{line.name}: in side"
        else:
            label = f"{line.name}: in {tally.lines[line.name]['in']} out {tally.lines[line.name]['out']}"
        _text(scene, label, mid[0], mid[1], IN_SIDE_COLOR, 0.45)

    def _tracks(self, scene: np.ndarray, tracks: Detections) -> None:
        dets = to_supervision(tracks, self.vocab)
        if self.traces is not None and dets.tracker_id is not None:
            self.traces.annotate(scene, dets)
        self.boxes.annotate(scene, dets)
        ids = tracks.tracker_id
        names = dets.data["class_name"]
        labels = [f"{n} #{t}" if t >= 0 else n for n, t in zip(names, ids.tolist())]
        self.labels.annotate(scene, dets, labels=labels)

    def panel_lines(self, tally: Tally | None, caption: str | None = None) -> list[str]:
        rows = [caption] if caption else []
        if tally is None:  # a preview: where things are, to help with typing coordinates
            def xy(p) -> str:
                return f"({p[0]:g},{p[1]:g})"
            rows += [f"{ln.name}: A{xy(ln.points[0])} B{xy(ln.points[1])} "
                     + (f"in_direction {ln.in_direction}" if ln.in_direction else f"in_side {ln.in_side}")
                     for ln in self.typed.lines]
            rows += [f"{z.name}: zone of {len(z.polygon)} points" for z in self.typed.zones]
            return rows
        rows += [f"{ln.name}: in {tally.lines[ln.name]['in']}  out {tally.lines[ln.name]['out']}"
                 for ln in self.camera.lines]
        for z in self.camera.zones:
            c = tally.zones[z.name]
            rows.append(f"{z.name}: entered {c['in']}  inside {c['in'] - c['out']}")
        return rows

    @staticmethod
    def panel_box(rows: list[str]) -> tuple[int, int, int, int]:
        """x1, y1, x2, y2 of the counts panel (top left) holding these rows of text."""
        width = max(cv2.getTextSize(r, cv2.FONT_HERSHEY_SIMPLEX, PANEL_SCALE, 1)[0][0] for r in rows)
        return 0, 0, width + 2 * PANEL_PAD, 2 * PANEL_PAD + len(rows) * PANEL_LINE_H

    def draw_panel(self, scene: np.ndarray, tally: Tally | None, caption: str | None = None) -> None:
        """The counts, top left, opaque and drawn last: it changes exactly when a count does."""
        rows = self.panel_lines(tally, caption)
        if not rows:
            return
        x1, y1, x2, y2 = self.panel_box(rows)
        cv2.rectangle(scene, (x1, y1), (x2, y2), PANEL_BG.as_bgr(), -1)
        for i, row in enumerate(rows):
            base = y1 + PANEL_PAD + (i + 1) * PANEL_LINE_H - 5
            cv2.putText(scene, row, (x1 + PANEL_PAD, base), cv2.FONT_HERSHEY_SIMPLEX, PANEL_SCALE,
                        WHITE.as_bgr(), 1, cv2.LINE_AA)
