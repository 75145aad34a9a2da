"""Vigil's multi-object tracker: Kalman + Hungarian, ByteTrack's two-stage association.

Per frame, after a Kalman predict of every track to the frame time:
1. confirmed and lost tracks vs confident detections (IoU x confidence; when embeddings are
   given, fused with the cosine distance to the track's embedding EMA; optional motion gate);
   1b. lost tracks still unmatched vs the confident detections nobody took, at a lower IoU
   (`lost_match_iou`: a prediction drifts while its object is unseen; after the joint stage, so
   a lost track never takes a detection a visible track wants);
2. still-unmatched confirmed tracks vs low-confidence detections (IoU only; ByteTrack);
3. tentative tracks vs the confident detections left;
4. optionally, still-unmatched tracks vs what is left by their last *observed* box (OC-SORT's
   OCR; off by default: it cost HOTA on every MOTChallenge sequence we scored);
5. with embeddings, unmatched tracks vs what is left by appearance inside a wide motion gate;
then matched tracks are corrected (a lost track found again is re-run along a straight
virtual path: OC-SORT's ORU), unmatched ones become lost and are dropped after
`max_lost_seconds`, and unmatched confident detections start tracks: reported at once when
born from a detection at least `instant_confirm_threshold` confident (or on the stream's first
frame), otherwise tentative until `min_hits` matched frames. Time is in seconds, so any frame
rate works.
"""

from __future__ import annotations

import numpy as np

from vigil.config.tracker import TrackerConfig
from vigil.track.kalman import CHI2_95_2DOF, CHI2_95_4DOF, CHI2_999_2DOF, PP, BoxKalman, xywh_to_xyxy, xyxy_to_xywh
from vigil.track.matching import INFEASIBLE, cosine_distance, expand_boxes, iou_matrix, linear_assignment
from vigil.track.state import LOST, TENTATIVE, TRACKED, TrackArrays
from vigil.types import Detections

MAX_VIRTUAL_STEPS = 60  # cap on the re-update path after a long occlusion


class Tracker:
    """`Tracker(cfg).update(dets, t, image=None) -> Detections` of the tracks reported on this frame."""

    def __init__(self, cfg: TrackerConfig | None = None):
        self.cfg = cfg or TrackerConfig()
        self.kf = BoxKalman(self.cfg.std_position, self.cfg.std_velocity,
                            confidence_scaled_noise=self.cfg.confidence_scaled_noise)
        self._cmc = None
        if self.cfg.camera_motion != "none":
            from vigil.track.camera_motion import CameraMotion

            self._cmc = CameraMotion(self.cfg.camera_motion)
        self.reset()

    def reset(self) -> None:
        """Forget every track and restart ids at 1."""
        self.tracks = TrackArrays.empty()
        self._next_id = 1
        self._t: float | None = None
        self._frames = 0
        self._frame_dt: float | None = None  # running estimate of the frame interval (for re-update steps)
        if self._cmc is not None:
            self._cmc.reset()

    # -- the frame step -------------------------------------------------------------------------------

    def update(self, dets: Detections, t: float, image: np.ndarray | None = None) -> Detections:
        self._advance(t, image)
        ctx = self._candidates(dets)
        m = _Matching(len(self.tracks), len(ctx.keep))
        pool = np.flatnonzero(self.tracks.state != TENTATIVE)  # confirmed and lost tracks
        self._match_confident(ctx, m, pool)
        self._match_lost_loosely(ctx, m, pool)
        self._match_low_confidence(ctx, m, pool)
        self._match_tentative(ctx, m)
        self._recover_by_last_box(ctx, m, pool)
        self._recover_by_appearance(ctx, m, pool)
        matched = np.flatnonzero(m.det_of >= 0)
        self._correct(matched, m.det_of[matched], ctx)
        out = self._report(ctx, matched, m.det_of[matched], dets)
        self._retire(m.det_of < 0)
        return self._births(ctx, m, out, dets)

    # -- the stages of a frame, in order -------------------------------------------------------------

    def _advance(self, t: float, image: np.ndarray | None) -> None:
        """Move the clock to `t`: drop expired tracks, predict the rest, compensate camera motion."""
        dt = 0.0 if self._t is None else max(float(t) - self._t, 0.0)
        if dt > 0:
            self._frame_dt = dt if self._frame_dt is None else 0.9 * self._frame_dt + 0.1 * dt
        self._t = float(t)
        self._frames += 1
        tr = self.tracks
        expired = self._t - tr.t_last > self.cfg.max_lost_seconds  # also after a long gap between frames
        if expired.any():
            tr = self.tracks = tr.select(~expired)
        if len(tr) and dt > 0:
            tr.mean[tr.state == LOST, 6:] = 0.0  # a track out of sight stops changing size
            tr.mean, tr.cov = self.kf.predict(tr.mean, tr.cov, dt)
        if self._cmc is not None and image is not None:
            warp = self._cmc.estimate(image)
            if warp is not None and len(tr):
                tr.mean, tr.cov, tr.last_box = self._cmc.apply(warp, tr.mean, tr.cov, tr.last_box)

    def _candidates(self, dets: Detections) -> _Candidates:
        """The detections worth considering (a real box, at least `low_threshold`), in the tracker's arrays."""
        cfg = self.cfg
        wh = dets.xyxy[:, 2:] - dets.xyxy[:, :2]
        keep = np.flatnonzero((wh[:, 0] > 0) & (wh[:, 1] > 0) & (dets.confidence >= cfg.low_threshold))
        xyxy = dets.xyxy[keep].astype(np.float64)
        conf = dets.confidence[keep]
        emb, has_emb = (None, None) if dets.embedding is None else (dets.embedding[keep], dets.has_embedding[keep])
        return _Candidates(keep, xyxy, xyxy_to_xywh(xyxy), conf, dets.class_id[keep], emb, has_emb,
                           xywh_to_xyxy(self.tracks.mean[:, :4]), conf >= cfg.high_threshold)

    def _match_confident(self, ctx: _Candidates, m: _Matching, pool: np.ndarray) -> None:
        """1. confirmed and lost tracks vs confident detections."""
        m.assign(pool, ctx.hi, self._cost(ctx, pool, ctx.hi, fuse=self.cfg.fuse_score), 1 - self.cfg.match_iou)

    def _match_lost_loosely(self, ctx: _Candidates, m: _Matching, pool: np.ndarray) -> None:
        """1b. lost tracks' predictions drift while unseen: a second, looser chance at the confident
        detections nobody took."""
        cfg = self.cfg
        if 0 <= cfg.lost_match_iou < cfg.match_iou:
            left = m.unmatched(pool)
            lost = left[self.tracks.state[left] == LOST]
            hi_left = m.free(ctx.hi)
            m.assign(lost, hi_left, self._cost(ctx, lost, hi_left, fuse=cfg.fuse_score), 1 - cfg.lost_match_iou)

    def _match_low_confidence(self, ctx: _Candidates, m: _Matching, pool: np.ndarray) -> None:
        """2. confirmed tracks still unmatched vs low-confidence detections (IoU only; ByteTrack)."""
        left = m.unmatched(pool)
        left_tracked = left[self.tracks.state[left] == TRACKED]
        m.assign(left_tracked, ctx.lo, self._cost(ctx, left_tracked, ctx.lo, fuse=False, appearance=False),
                 1 - self.cfg.low_match_iou)

    def _match_tentative(self, ctx: _Candidates, m: _Matching) -> None:
        """3. tentative tracks vs the confident detections left."""
        tent = np.flatnonzero(self.tracks.state == TENTATIVE)
        hi_left = m.free(ctx.hi)
        m.assign(tent, hi_left, self._cost(ctx, tent, hi_left, fuse=self.cfg.fuse_score), 1 - self.cfg.match_iou)

    def _recover_by_last_box(self, ctx: _Candidates, m: _Matching, pool: np.ndarray) -> None:
        """4. observation-centric recovery (OC-SORT's OCR): unmatched tracks by their last observed box."""
        if not self.cfg.observation_recovery:
            return
        orphans = m.unmatched(pool)
        hi_left = m.free(ctx.hi)
        if len(orphans) and len(hi_left):
            cost = 1.0 - iou_matrix(self.tracks.last_box[orphans], ctx.xyxy[hi_left])
            m.assign(orphans, hi_left, self._forbid(cost, ctx, orphans, hi_left), 1 - self.cfg.match_iou)

    def _recover_by_appearance(self, ctx: _Candidates, m: _Matching, pool: np.ndarray) -> None:
        """5. re-identification: unmatched tracks vs the confident detections left, by appearance within a
        wide motion window (the track's own uncertainty, which grows while it is out of sight)."""
        tr = self.tracks
        if self.cfg.appearance_recovery <= 0 or ctx.emb is None or tr.embedding is None:
            return
        lost = m.unmatched(pool)
        hi_left = m.free(ctx.hi)
        if len(lost) and len(hi_left):
            cost = cosine_distance(tr.embedding[lost], ctx.emb[hi_left])
            cost[~tr.has_embedding[lost]] = INFEASIBLE
            cost[:, ~ctx.has_emb[hi_left]] = INFEASIBLE
            gate = self.kf.gating_distance(tr.mean[lost], tr.cov[lost], ctx.xywh[hi_left], 2)
            cost[gate > CHI2_999_2DOF] = INFEASIBLE
            m.assign(lost, hi_left, self._forbid(cost, ctx, lost, hi_left), self.cfg.appearance_recovery)

    def _report(self, ctx: _Candidates, rows: np.ndarray, cols: np.ndarray, dets: Detections) -> Detections:
        """The matched tracks that are confirmed, with their detection's confidence, class and embedding."""
        tr = self.tracks
        visible = tr.state[rows] == TRACKED
        reported, det = rows[visible], cols[visible]
        box = ctx.xyxy[det] if self.cfg.output_box == "detection" else xywh_to_xyxy(tr.mean[reported, :4])
        src = dets[ctx.keep[det]]
        return Detections(xyxy=box, confidence=ctx.conf[det], class_id=ctx.cls[det],
                          tracker_id=tr.id[reported].copy(), embedding=src.embedding, embedded=src.embedded)

    def _retire(self, unmatched: np.ndarray) -> None:
        """Unmatched visible tracks become lost; unmatched tentative ones are dropped."""
        tr = self.tracks
        tr.state[unmatched & (tr.state == TRACKED)] = LOST
        drop = unmatched & (tr.state == TENTATIVE)
        if drop.any():
            self.tracks = tr.select(~drop)

    def _births(self, ctx: _Candidates, m: _Matching, out: Detections, dets: Detections) -> Detections:
        """Unmatched confident detections start tracks; `out` plus the ones reported at once."""
        cfg = self.cfg
        fresh = np.flatnonzero(ctx.high & ~m.used & (ctx.conf >= cfg.new_track_threshold))
        if not len(fresh):
            return out
        # ByteTrack reports the first frame's tracks at once; confident births need no confirmation
        confirmed = ((cfg.min_hits <= 1) | (self._frames == 1)
                     | (ctx.conf[fresh] >= cfg.instant_confirm_threshold))
        born = self._new_tracks(ctx, fresh, confirmed=confirmed)
        self.tracks = self.tracks.append(born)
        if not confirmed.any():
            return out
        now = fresh[confirmed]
        src = dets[ctx.keep[now]]
        return Detections.merge([out, Detections(
            xyxy=ctx.xyxy[now], confidence=ctx.conf[now], class_id=ctx.cls[now], tracker_id=born.id[confirmed],
            embedding=src.embedding, embedded=src.embedded)])

    def embedding_wanted(self, dets: Detections, t: float, refresh_seconds: float,
                         min_iou: float = 0.5, near_iou: float = 0.3) -> np.ndarray:
        """Which of this frame's detections need an appearance embedding (bool mask); the rest
        can go without (marked not embedded), which the tracker reads as motion only.

        A detection is skipped only when it plainly continues one visible track: IoU at least
        `min_iou` with that track's predicted box, no other track or detection within
        `near_iou` of the pair, and the track's appearance refreshed less than
        `refresh_seconds` ago. Births, lost tracks found again, crowds and crossings are
        embedded. Reads the tracks without changing them."""
        want = np.ones(len(dets), bool)
        tr = self.tracks
        if not len(dets) or not len(tr):
            return want
        assert self._t is not None  # tracks exist, so an update has set the clock
        dt = max(float(t) - self._t, 0.0)
        mean = self.kf.predict(tr.mean, tr.cov, dt)[0] if dt > 0 else tr.mean
        # every track, in any state, can be a rival; only a visible, freshly embedded one can be continued
        near = iou_matrix(xywh_to_xyxy(mean[:, :4]), dets.xyxy.astype(np.float64))  # tracks x detections
        best = near.argmax(axis=0)
        cols = np.arange(len(dets))
        best_iou = near[best, cols]
        near = near >= near_iou
        others_on_det = near.sum(axis=0) - near[best, cols] > 0  # another track near the detection
        rivals = near[best].sum(axis=1) > 1                      # the track is near other detections too
        det_iou = iou_matrix(dets.xyxy.astype(np.float64), dets.xyxy.astype(np.float64))
        np.fill_diagonal(det_iou, 0.0)
        crowded = (det_iou >= near_iou).any(axis=1)              # the detection overlaps another one
        fresh = (tr.state[best] == TRACKED) & (float(t) - tr.t_emb[best] <= refresh_seconds)
        easy = fresh & (best_iou >= min_iou) & ~others_on_det & ~rivals & ~crowded
        want[easy] = False
        return want

    # -- pieces ---------------------------------------------------------------------------------------

    def _cost(self, ctx: _Candidates, rows: np.ndarray, cols: np.ndarray, fuse: bool,
              appearance: bool = True) -> np.ndarray:
        """Association cost (tracks rows x detections cols): 1 - IoU(xconf), gated, fused with appearance."""
        if len(rows) == 0 or len(cols) == 0:
            return np.zeros((len(rows), len(cols)))
        tr, cfg = self.tracks, self.cfg
        boxes = ctx.pred_xyxy[rows]
        lost = tr.state[rows] == LOST
        if cfg.lost_box_growth > 0 and lost.any():
            boxes = boxes.copy()
            boxes[lost] = expand_boxes(boxes[lost], cfg.lost_box_growth * (self._t - tr.t_last[rows[lost]]))
        if cfg.lost_box_sigma > 0 and lost.any():
            # pad lost tracks' boxes by their predicted centre uncertainty (grows while out of sight)
            sd = np.sqrt(tr.cov[rows[lost], PP, :2]) * cfg.lost_box_sigma
            boxes = boxes.copy()
            boxes[lost] += np.concatenate([-sd, sd], axis=1)
        sim = iou_matrix(boxes, ctx.xyxy[cols])
        if fuse:
            sim = sim * ctx.conf[cols][None, :]
        cost = 1.0 - sim
        if appearance and ctx.emb is not None and tr.embedding is not None and cfg.appearance_weight > 0:
            emb_cost = cosine_distance(tr.embedding[rows], ctx.emb[cols])
            # tracks never embedded, and detections not embedded (a degenerate crop, or not wanted),
            # have no appearance to compare: motion-only cost for those pairs
            has = tr.has_embedding[rows][:, None] & ctx.has_emb[cols][None, :]
            w = cfg.appearance_weight
            fused = (1 - w) * cost + w * emb_cost
            fused[emb_cost > cfg.appearance_gate] = INFEASIBLE
            fused[sim <= 0] = INFEASIBLE  # no overlap: only the gated re-identification stage may match
            cost = np.where(has, fused, cost)
        if cfg.motion_gating != "none":
            dims = 2 if cfg.motion_gating == "centre" else 4
            gate = self.kf.gating_distance(tr.mean[rows], tr.cov[rows], ctx.xywh[cols], dims)
            cost[gate > (CHI2_95_2DOF if dims == 2 else CHI2_95_4DOF)] = INFEASIBLE
        return self._forbid(cost, ctx, rows, cols)

    def _forbid(self, cost: np.ndarray, ctx: _Candidates, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        if self.cfg.per_class:
            cost[self.tracks.class_id[rows][:, None] != ctx.cls[cols][None, :]] = INFEASIBLE
        return cost

    def _correct(self, rows: np.ndarray, cols: np.ndarray, ctx: _Candidates) -> None:
        """Kalman-correct matched tracks and update their bookkeeping."""
        if len(rows) == 0:
            return
        tr, cfg = self.tracks, self.cfg
        mean, cov = tr.mean[rows], tr.cov[rows]
        if cfg.reupdate_after_occlusion and self._frame_dt:
            gap = np.rint((self._t - tr.t_last[rows]) / self._frame_dt).astype(np.int64)
            back = np.flatnonzero((tr.state[rows] == LOST) & (gap > 1))
            if len(back):
                mean[back], cov[back] = self._reupdate(rows[back], ctx.xywh[cols[back]], gap[back])
        tr.mean[rows], tr.cov[rows] = self.kf.update(mean, cov, ctx.xywh[cols], ctx.conf[cols])
        tr.obs_mean[rows], tr.obs_cov[rows] = tr.mean[rows], tr.cov[rows]
        tr.hits[rows] += 1
        tr.t_last[rows] = self._t
        tr.last_box[rows] = ctx.xyxy[cols]
        tr.confidence[rows] = ctx.conf[cols]
        tr.class_id[rows] = ctx.cls[cols]
        confirm = (tr.state[rows] == LOST) | ((tr.state[rows] == TENTATIVE) & (tr.hits[rows] >= cfg.min_hits))
        tr.state[rows[confirm]] = TRACKED
        if ctx.emb is not None:
            real = ctx.has_emb[cols]  # rows not embedded leave the track's appearance as it was
            self._update_embeddings(rows[real], ctx.emb[cols[real]])

    def _reupdate(self, rows: np.ndarray, z: np.ndarray, gap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """OC-SORT's ORU for tracks found again after `gap` frames: from the state at the last
        observation, walk a straight line of virtual observations to `z` (one per missed frame),
        so the velocity drifted during the occlusion is replaced. Vectorised over the tracks; returns
        their states predicted to the current time, ready for the real update."""
        tr = self.tracks
        steps = np.minimum(gap, MAX_VIRTUAL_STEPS)
        step_dt = (self._t - tr.t_last[rows]) / steps
        start = xyxy_to_xywh(tr.last_box[rows])
        mean, cov = tr.obs_mean[rows], tr.obs_cov[rows]
        for j in range(1, int(steps.max())):
            live = np.flatnonzero(j < steps)
            m, c = self.kf.predict(mean[live], cov[live], step_dt[live])
            virtual = start[live] + (z[live] - start[live]) * (j / steps[live])[:, None]
            mean[live], cov[live] = self.kf.update(m, c, virtual)
        return self.kf.predict(mean, cov, step_dt)

    def _update_embeddings(self, rows: np.ndarray, emb: np.ndarray) -> None:
        tr, m = self.tracks, self.cfg.embedding_momentum
        if tr.embedding is None:
            tr.embedding = np.zeros((len(tr), emb.shape[1]), np.float32)
        old = tr.embedding[rows]
        new = np.where(tr.has_embedding[rows][:, None], m * old + (1 - m) * emb, emb)
        tr.embedding[rows] = new / np.maximum(np.linalg.norm(new, axis=1, keepdims=True), 1e-12)
        tr.t_emb[rows] = self._t

    def _new_tracks(self, ctx: _Candidates, cols: np.ndarray, confirmed: np.ndarray) -> TrackArrays:
        n = len(cols)
        mean, cov = self.kf.initiate(ctx.xywh[cols])
        ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._next_id += n
        emb = None
        t_emb = np.full(n, -np.inf)
        if ctx.emb is not None:
            real = ctx.has_emb[cols]
            emb = np.where(real[:, None], ctx.emb[cols], 0.0)
            emb /= np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
            t_emb[real] = self._t
        return TrackArrays(id=ids, class_id=ctx.cls[cols].copy(), confidence=ctx.conf[cols].copy(),
                          state=np.where(confirmed, TRACKED, TENTATIVE).astype(np.int8),
                          hits=np.ones(n, np.int32), t_last=np.full(n, self._t), mean=mean, cov=cov,
                          last_box=ctx.xyxy[cols].copy(), obs_mean=mean.copy(), obs_cov=cov.copy(), t_emb=t_emb,
                          embedding=None if emb is None else emb.astype(np.float32))


class _Candidates:
    """This frame's detections that may be matched (tracker-space arrays), and the tracks' predicted boxes."""

    __slots__ = ("keep", "xyxy", "xywh", "conf", "cls", "emb", "has_emb", "pred_xyxy", "high", "hi", "lo")

    def __init__(self, keep, xyxy, xywh, conf, cls, emb, has_emb, pred_xyxy, high):
        self.keep = keep  # row of each candidate in the Detections given
        self.xyxy, self.xywh, self.conf, self.cls, self.pred_xyxy = xyxy, xywh, conf, cls, pred_xyxy
        self.emb, self.has_emb = emb, has_emb  # embeddings and which are real (None: no embeddings)
        self.high = high  # confident (>= high_threshold)
        self.hi, self.lo = np.flatnonzero(high), np.flatnonzero(~high)


class _Matching:
    """The association so far on this frame: the candidate each track took (-1: none yet) and the
    candidates taken. Each stage matches what the earlier ones left."""

    def __init__(self, n_tracks: int, n_candidates: int):
        self.det_of = np.full(n_tracks, -1, np.int64)
        self.used = np.zeros(n_candidates, bool)

    def assign(self, rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, limit: float) -> None:
        m, _, _ = linear_assignment(cost, limit)
        self.det_of[rows[m[:, 0]]] = cols[m[:, 1]]
        self.used[cols[m[:, 1]]] = True

    def unmatched(self, rows: np.ndarray) -> np.ndarray:
        return rows[self.det_of[rows] < 0]

    def free(self, cols: np.ndarray) -> np.ndarray:
        return cols[~self.used[cols]]
