"""CameraCounter: turns one camera's tracks, frame by frame, into line and zone events.

Rules (see LineConfig / ZoneConfig / CountingConfig for the knobs):
- Lines. A track's *side* of a line is known once its anchor is at least `min_distance` past it.
  The move between two consecutive reported positions of a track is tested against the line
  *segment*, so an object that jumps over the line between frames still crosses, and one that
  passes beyond an end of the segment does not. A crossing counts when the track, last known on
  one side, has been at least `min_distance` past the line on the other side for `min_frames`
  consecutive frames, and its most recent passage onto that side went through the segment.
  Policy 'once' counts each direction at most once per track; 'every' counts every crossing.
- Zones. Inside/outside flips after `min_frames` consecutive frames in the new state; entries
  and exits are events, exits carry the dwell (first frame inside to first frame outside).
- Lost tracks. A track not reported for `lost_after_s` is forgotten: a zone visit still open ends
  with an exit stamped at the track's last sighting; its slot is reused, so state stays bounded.
- Filters (classes / min_confidence / min_area / max_area). A line follows every track's side
  on every frame and counts a crossing only when the track passes its filters on the frame the
  crossing is decided: a vote that turns car -> truck just before the line still makes a truck
  on a trucks-only line, as it does on an unfiltered one. A zone ignores, on each frame, the
  tracks whose class (the stitcher's vote), confidence or box area fail its filters.
- Speed. With a ground plane (GroundConfig), each track's ground point (bottom centre of its
  box) is mapped to metres on every frame; a line crossing carries the speed of the least-squares
  fit of that motion over the last `speed_window_s` seconds of frame time.
- Re-ID. A new track that continues a recently lost one (vigil.track.stitch decides, from
  embeddings, motion and class) takes over its whole counting state, so an id switch neither
  counts a line twice nor splits a zone visit. The class of a track is the stitcher's vote.

Everything per frame is vectorised over the tracks; Python loops run only per line, per zone
and per emitted event.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import numpy as np

from vigil.classes import DEFAULT_VOCAB, ClassVocab
from vigil.config.base import first_duplicate
from vigil.config.filters import ObjectFilter
from vigil.config.geometry import CountingConfig, LineConfig, ZoneConfig
from vigil.config.ground import GroundConfig
from vigil.count.geometry import (
    crossing_within_segment,
    points_in_polygon,
    signed_distance,
)
from vigil.count.speed import GroundPlane
from vigil.errors import ConfigError
from vigil.track.slots import SlotTable
from vigil.track.stitch import IdentityStitcher
from vigil.types import CountEvent, Detections

_INHERITED = ("identity", "line_side", "line_sign", "line_pt", "line_cross_ok", "line_run", "line_counted",
              "zone_inside", "zone_entered", "zone_run", "zone_run_start")


class CameraCounter:
    """Counts line crossings and zone visits for one camera. Not thread-safe: one caller per camera."""

    def __init__(self, camera_id: str, lines: list[LineConfig], zones: list[ZoneConfig],
                 counting: CountingConfig | None = None, ground: GroundConfig | None = None,
                 vocab: ClassVocab = DEFAULT_VOCAB):
        # The site config refuses duplicates already; a counter built by hand gets the same check.
        dup = first_duplicate([ln.name for ln in lines] + [z.name for z in zones])
        if dup is not None:
            raise ConfigError(f"camera {camera_id!r}: line/zone name {dup!r} is used twice; names must be unique")
        self.camera_id = camera_id
        self.lines = list(lines)
        self.zones = list(zones)
        self.cfg = counting or CountingConfig()
        self.vocab = vocab  # what class_id means: event class names, filter classes
        self._class_filter = [self._filter_ids(kind, shape) for kind, shapes in (("line", self.lines),
                                                                                 ("zone", self.zones))
                              for shape in shapes]
        self._a = np.array([ln.points[0] for ln in self.lines], np.float64).reshape(-1, 2)
        self._b = np.array([ln.points[1] for ln in self.lines], np.float64).reshape(-1, 2)
        self._in_sign = np.array([1 if ln.in_side == "right" else -1 for ln in self.lines], np.int8)
        self._polygons = [np.asarray(z.polygon, np.float64) for z in self.zones]
        self._ground = None if ground is None else GroundPlane(ground)
        self._ids = IdentityStitcher(self.cfg.reid_max_gap_s, self.cfg.reid_max_distance,
                                     self.cfg.reid_min_similarity, enabled=self.cfg.reid_dedup, vocab=vocab)
        self._reset()

    # ------------------------------------------------------------------ public API

    def update(self, tracks: Detections, time: datetime) -> list[CountEvent]:
        """Events decided on this frame. `tracks`: the tracker's reported rows (tracker_id set);
        `time`: the frame's tz-aware time. Rows with tracker_id -1 are ignored; a repeated id keeps
        its first row."""
        t = self._seconds(time)
        tracks = self._clean(tracks)
        events = self._prune(t)
        ids = tracks.tracker_id
        slots = self._slots_for(ids)
        continues = self._ids.update(tracks, t)  # an id switch: the lost id each new row continues
        for row in np.flatnonzero(continues >= 0).tolist():
            self._inherit(int(slots[row]), int(continues[row]))
        self._table.last_seen[slots] = t
        classes = self._ids.classes(ids)
        if self._ground is not None:
            self._ground.record(self._table, slots, tracks, t)
        anchors: dict[str, np.ndarray] = {}
        decided: list[CountEvent] = []
        for li, line in enumerate(self.lines):
            if line.anchor not in anchors:
                anchors[line.anchor] = tracks.anchors(line.anchor).astype(np.float64)
            decided += self._with_speed(self._update_line(li, anchors[line.anchor], slots, ids, classes, time,
                                                         self._passing(li, line, tracks, classes)), t)
        for zi, zone in enumerate(self.zones):
            if zone.anchor not in anchors:
                anchors[zone.anchor] = tracks.anchors(zone.anchor).astype(np.float64)
            sel = self._passing(len(self.lines) + zi, zone, tracks, classes)
            p, sl, i, c = _rows(sel, anchors[zone.anchor], slots, ids, classes)
            decided += self._update_zone(zi, p, sl, i, c, t, time)
        return events + self._as_identity(decided)

    def identities(self, tracker_ids: np.ndarray) -> np.ndarray:
        """The object identity (the id its events carry) of each tracker id; unknown ids map to themselves."""
        tab = self._table
        return np.array([tab.identity[s] if (s := tab.slot_of.get(int(i))) is not None else i
                         for i in tracker_ids.tolist()], np.int64)

    def _as_identity(self, events: list[CountEvent]) -> list[CountEvent]:
        """Events carry the object's identity, not the current tracker id: after an id switch that
        re-ID bridged, the object's later events keep its first id, so a turning movement (first
        to last passage of one id) is not split in two. Call while the tracks' slots are held."""
        tab = self._table
        out = []
        for e in events:
            s = tab.slot_of.get(e.track_id)
            ident = int(tab.identity[s]) if s is not None else e.track_id
            out.append(e if ident == e.track_id else replace(e, track_id=ident))
        return out

    def _with_speed(self, events: list[CountEvent], t: float) -> list[CountEvent]:
        if self._ground is None or not events:
            return events
        tab = self._table
        return [replace(e, speed_kmh=self._ground.speed_kmh(tab, tab.slot_of[e.track_id], t)) for e in events]

    def finish(self, time: datetime) -> list[CountEvent]:
        """End of stream: close every open zone visit (exit stamped at the track's last sighting,
        or where a pending exit began), then forget all state."""
        if self._t0 is not None:
            self._seconds(time)  # validates the argument
        live = np.flatnonzero(self._table.track_id >= 0)
        events = self._as_identity(self._close_visits(live))
        self._reset()
        return events

    def occupancy(self) -> dict[str, dict[str, int]]:
        """Tracks inside each zone now, per class (every class listed, zeros included). Tracks
        lost but not yet forgotten still count: occupancy equals entries minus exits."""
        tab = self._table
        live = np.flatnonzero(tab.track_id >= 0)
        classes = self._ids.classes(tab.track_id[live])
        out = {}
        for zi, zone in enumerate(self.zones):
            counts = np.bincount(classes[tab.zone_inside[live, zi]], minlength=len(self.vocab))
            out[zone.name] = {name: int(counts[c]) for c, name in enumerate(self.vocab.names)}
        return out

    @property
    def tracked(self) -> int:
        """Tracks currently held in memory (reported now or lost for under lost_after_s)."""
        return len(self._table)

    # ------------------------------------------------------------------ state

    def _reset(self) -> None:
        L, Z = len(self.lines), len(self.zones)
        self._next_identity = 1 << 40  # identities given when a track's own id is taken: above any tracker id
        self._identities: set[int] = set()  # `identity` of every live slot (unique: _slots_for sees to it)
        self._ids.reset()
        speed = {} if self._ground is None else self._ground.fields()
        self._table = SlotTable({
            **speed,
            "track_id": ((), np.int64, -1),
            "identity": ((), np.int64, -1),          # the object's first track id: kept across id switches
            "last_seen": ((), np.float64, 0.0),      # seconds since _t0
            "line_side": ((L,), np.int8, 0),         # confirmed side: -1, +1, 0 = not known yet
            "line_sign": ((L,), np.int8, 0),         # sign of the last off-line anchor position
            "line_pt": ((L, 2), np.float64, 0.0),    # that position
            "line_cross_ok": ((L,), bool, False),    # did the last sign change pass through the segment
            "line_run": ((L,), np.int32, 0),         # frames far past the line on the unconfirmed side
            "line_counted": ((L, 2), bool, False),   # counted in / out already (policy 'once')
            "zone_inside": ((Z,), bool, False),
            "zone_entered": ((Z,), np.float64, 0.0),
            "zone_run": ((Z,), np.int32, 0),         # frames in the other state than zone_inside
            "zone_run_start": ((Z,), np.float64, 0.0),
        })
        self._t0: datetime | None = None

    def _seconds(self, time: datetime) -> float:
        if not isinstance(time, datetime) or time.tzinfo is None or time.utcoffset() is None:
            raise ValueError(f"counter time must be a timezone-aware datetime, got {time!r}")
        if self._t0 is None:
            self._t0 = time
        return (time - self._t0).total_seconds()

    def _at(self, seconds: float) -> datetime:
        assert self._t0 is not None  # seconds come from _seconds, which sets the origin
        return self._t0 + timedelta(seconds=float(seconds))

    def _filter_ids(self, kind: str, shape: LineConfig | ZoneConfig) -> np.ndarray | None:
        """The class ids a line or zone's `classes` filter lets through (groups expanded)."""
        if shape.classes is None:
            return None
        try:
            return self.vocab.ids(self.vocab.expand(shape.classes))
        except ValueError as exc:
            raise ConfigError(f"camera {self.camera_id!r} {kind} {shape.name!r}: {exc}") from None

    def _passing(self, k: int, shape: ObjectFilter, tracks: Detections, classes: np.ndarray) -> np.ndarray | None:
        """Rows of `tracks` that line/zone number `k`'s filters let through; None when it has no filters."""
        if not shape.filters:
            return None
        ok = np.ones(len(tracks), bool)
        if (wanted := self._class_filter[k]) is not None:
            ok &= np.isin(classes, wanted)
        if shape.min_confidence is not None:
            ok &= tracks.confidence >= shape.min_confidence
        if shape.min_area is not None or shape.max_area is not None:
            area = tracks.area
            if shape.min_area is not None:
                ok &= area >= shape.min_area
            if shape.max_area is not None:
                ok &= area <= shape.max_area
        return ok

    def _clean(self, tracks: Detections) -> Detections:
        ids = tracks.tracker_id
        keep = ids >= 0
        if not keep.all():
            tracks, ids = tracks[keep], ids[keep]
        n = len(self.vocab)
        if len(ids) and (bad := (tracks.class_id < 0) | (tracks.class_id >= n)).any():
            raise ValueError(f"class_id {int(tracks.class_id[bad][0])} is not a class id of this pipeline (0..{n - 1})")
        _, first = np.unique(ids, return_index=True)
        if len(first) < len(ids):
            tracks = tracks[np.sort(first)]
        return tracks

    def _slots_for(self, ids: np.ndarray) -> np.ndarray:
        tab = self._table
        slots = np.array([tab.slot_of.get(i, -1) for i in ids.tolist()], dtype=np.int64)
        for i in np.flatnonzero(slots < 0):
            slots[i] = tab.allocate(int(ids[i]))
            tab.track_id[slots[i]] = ids[i]
            # Its own id, unless an object that re-ID continued already carries that id: the tracker
            # may recover a lost id after the stitcher handed its identity on. Then a new number.
            own = int(ids[i])
            if own in self._identities:
                self._next_identity += 1
                own = self._next_identity
            tab.identity[slots[i]] = own
            self._identities.add(own)
        return slots

    def _prune(self, t: float) -> list[CountEvent]:
        tab = self._table
        live = np.flatnonzero(tab.track_id >= 0)
        stale = live[t - tab.last_seen[live] > self.cfg.lost_after_s]
        if not len(stale):
            return []
        events = self._as_identity(self._close_visits(stale))
        gone = tab.track_id[stale].tolist()
        self._identities.difference_update(tab.identity[stale].tolist())
        tab.release(stale, gone)
        tab.track_id[stale] = -1
        self._ids.forget(gone)
        return events

    def _close_visits(self, slots: np.ndarray) -> list[CountEvent]:
        tab = self._table
        events = []
        for zi, zone in enumerate(self.zones):
            inside = slots[tab.zone_inside[slots, zi]]
            if not len(inside):
                continue
            pending = tab.zone_run[inside, zi] > 0
            left = np.where(pending, tab.zone_run_start[inside, zi], tab.last_seen[inside])
            dwell = left - tab.zone_entered[inside, zi]
            classes = self._ids.classes(tab.track_id[inside])
            for s, c, at, dw in zip(inside.tolist(), classes.tolist(), left.tolist(), dwell.tolist()):
                events.append(CountEvent(self.camera_id, "zone", zone.name, int(tab.track_id[s]),
                                         self.vocab.names[c], "out", self._at(at), dwell_s=float(dw)))
            tab.zone_inside[inside, zi] = False
        return events

    def _inherit(self, dst: int, old_id: int) -> None:
        """The track in slot `dst` continues `old_id` (an id switch): it takes over its counting state."""
        tab = self._table
        src = tab.slot_of[old_id]
        self._identities.discard(int(tab.identity[dst]))  # the continued object's identity stays in use, in dst
        tab.copy_rows(dst, src, list(_INHERITED))
        tab.release([src], [old_id])
        tab.track_id[src] = -1

    # ------------------------------------------------------------------ rules

    def _update_line(self, li: int, p: np.ndarray, slots: np.ndarray, ids: np.ndarray, classes: np.ndarray,
                     time: datetime, keep: np.ndarray | None = None) -> list[CountEvent]:
        if not len(slots):
            return []
        tab, line = self._table, self.lines[li]
        a, b = self._a[li], self._b[li]
        d = signed_distance(p, a, b)
        s = np.sign(d).astype(np.int8)
        last_sign = tab.line_sign[slots, li]
        cross_ok = tab.line_cross_ok[slots, li]
        changed = np.flatnonzero((s != 0) & (last_sign != 0) & (s != last_sign))
        if len(changed):
            p0 = tab.line_pt[slots[changed], li]
            cross_ok[changed] = crossing_within_segment(p0, signed_distance(p0, a, b), p[changed], d[changed], a, b)
        off = s != 0
        tab.line_sign[slots[off], li] = s[off]
        tab.line_pt[slots[off], li] = p[off]

        far = off & (np.abs(d) >= line.min_distance)
        side = tab.line_side[slots, li]
        side = np.where((side == 0) & far, s, side)          # first time clearly on one side
        towards = far & (side != 0) & (s == -side)
        run = np.where(towards, tab.line_run[slots, li] + 1, 0)
        confirm = towards & (run >= line.min_frames)
        side = np.where(confirm, s, side)
        run[confirm] = 0
        tab.line_side[slots, li] = side
        tab.line_run[slots, li] = run
        counted = confirm & cross_ok
        cross_ok[confirm] = False                             # a passage counts once
        tab.line_cross_ok[slots, li] = cross_ok
        if keep is not None:
            counted &= keep                                   # a passage by a track the filters refuse
        rows = np.flatnonzero(counted)
        if not len(rows):
            return []
        col = np.where(s[rows] == self._in_sign[li], 0, 1)    # 0 = in, 1 = out
        if line.policy == "once":
            fresh = ~tab.line_counted[slots[rows], li, col]
            rows, col = rows[fresh], col[fresh]
            tab.line_counted[slots[rows], li, col] = True
        return [CountEvent(self.camera_id, "line", line.name, int(ids[r]), self.vocab.names[classes[r]],
                           "in" if c == 0 else "out", time) for r, c in zip(rows.tolist(), col.tolist())]

    def _update_zone(self, zi: int, p: np.ndarray, slots: np.ndarray, ids: np.ndarray, classes: np.ndarray,
                     t: float, time: datetime) -> list[CountEvent]:
        if not len(slots):
            return []
        tab, zone = self._table, self.zones[zi]
        raw = points_in_polygon(p, self._polygons[zi])
        inside = tab.zone_inside[slots, zi]
        prev_run = tab.zone_run[slots, zi]
        differs = raw != inside
        run = np.where(differs, prev_run + 1, 0)
        start = np.where(differs & (prev_run == 0), t, tab.zone_run_start[slots, zi])
        flip = differs & (run >= zone.min_frames)
        entered = tab.zone_entered[slots, zi]
        entering = flip & raw
        dwell = start - entered
        entered = np.where(entering, start, entered)
        run[flip] = 0
        tab.zone_inside[slots, zi] = np.where(flip, raw, inside)
        tab.zone_run[slots, zi] = run
        tab.zone_run_start[slots, zi] = start
        tab.zone_entered[slots, zi] = entered
        events = []
        for r in np.flatnonzero(flip).tolist():
            going_in = bool(entering[r])
            events.append(CountEvent(self.camera_id, "zone", zone.name, int(ids[r]), self.vocab.names[classes[r]],
                                     "in" if going_in else "out", time,
                                     dwell_s=None if going_in else float(dwell[r])))
        return events


def _rows(sel: np.ndarray | None, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The selected rows of each array (all of them when sel is None)."""
    return arrays if sel is None else tuple(a[sel] for a in arrays)
