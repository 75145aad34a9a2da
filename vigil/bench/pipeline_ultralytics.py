"""The ultralytics side of `vigil bench pipeline`: the loop a user would write with ultralytics alone.

`model.track(source, persist=True, stream=True)` (ByteTrack, ultralytics' default tracker)
feeding `solutions.ObjectCounter` with one counting line. The counter normally runs its own
`model.track` on each frame it is given; here it is handed the streamed result instead, so
each frame is detected once, and everything else (its history, line test, drawing) runs as
shipped."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from pathlib import Path

from vigil.bench.memory import RssSampler, cpu_seconds
from vigil.bench.side import SideResult, empty_counts
from vigil.detect.labels import NAME_TO_VIGIL

# COCO indices of Vigil's classes (pedestrian, bicycle, car, motorcycle, bus, truck).
COCO_CLASSES = [0, 1, 2, 3, 5, 7]


def quiet_ultralytics() -> None:
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics.utils import LOGGER

    LOGGER.setLevel(logging.ERROR)  # the offline requirements check warns on every model load


def run_ultralytics(video: Path, weights: Path, line: tuple[tuple[float, float], tuple[float, float]],
             imgsz: int, conf: float, iou: float = 0.7) -> SideResult:
    """Run the ultralytics loop over every frame of `video` and return its numbers."""
    quiet_ultralytics()
    from ultralytics import solutions

    with contextlib.redirect_stdout(io.StringIO()):  # the solution prints its arguments
        counter = solutions.ObjectCounter(model=str(weights), region=[tuple(p) for p in line], show=False,
                                          conf=conf, iou=iou, imgsz=imgsz, classes=COCO_CLASSES,
                                          tracker="bytetrack.yaml", verbose=False)
    current = {}

    def extract_from_stream(im0) -> None:
        """ObjectCounter.extract_tracks, reading the streamed result instead of tracking again."""
        counter.tracks = current["r"]
        counter.track_data = counter.tracks.boxes
        if counter.track_data and counter.track_data.is_track:
            counter.boxes = counter.track_data.xyxy.cpu()
            counter.clss = counter.track_data.cls.cpu().tolist()
            counter.track_ids = counter.track_data.id.int().cpu().tolist()
            counter.confs = counter.track_data.conf.cpu().tolist()
        else:
            counter.boxes, counter.clss, counter.track_ids, counter.confs = [], [], [], []
        counter.forget_tracks([t.track_id for t in counter.model.predictor.trackers[0].removed_stracks_frame])

    counter.extract_tracks = extract_from_stream
    speed = {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0}
    count_s = 0.0
    frames = 0
    with RssSampler() as rss:
        t0 = time.perf_counter()
        stream = counter.model.track(source=str(video), persist=True, stream=True, imgsz=imgsz, conf=conf, iou=iou,
                                     classes=COCO_CLASSES, tracker="bytetrack.yaml", verbose=False)
        for r in stream:
            if frames == 1:  # steady state starts after the first frame (model load and warm-up)
                t_first, cpu_first = time.perf_counter(), cpu_seconds()
            current["r"] = r
            c0 = time.perf_counter()
            counter.process(r.orig_img)
            count_s += time.perf_counter() - c0
            for k in speed:
                speed[k] += r.speed.get(k) or 0.0
            frames += 1
        t_end, cpu_end = time.perf_counter(), cpu_seconds()
    seconds = t_end - t_first if frames > 1 else t_end - t0
    n = max(frames, 1)
    stages = {k: v / n for k, v in speed.items()}
    stages["count+draw"] = 1000 * count_s / n
    # What the predictor does not time itself: decode, tracking callbacks, Results objects.
    stages["other"] = max(0.0, 1000 * (t_end - t0) / n - sum(stages.values()))
    counts = empty_counts()
    for name, d in counter.classwise_count.items():
        cls = NAME_TO_VIGIL.get(str(name).lower(), str(name))
        cc = counts["by_class"].setdefault(cls, {"in": 0, "out": 0})
        cc["in"] += d["IN"]
        cc["out"] += d["OUT"]
    counts["in"], counts["out"] = counter.in_count, counter.out_count
    steady = frames - 1 if frames > 1 else frames
    cpu_ms = round(1000 * (cpu_end - cpu_first) / max(steady, 1), 1) if frames > 1 else None
    return SideResult(steady, seconds, counts, stages, rss.start, rss.peak, rss.end,
                      {"camera_frames": frames, "total_seconds": t_end - t0, "cpu_ms_per_frame": cpu_ms})
