"""`vigil bench pipeline`'s result as JSON or a table. The ultralytics side keeps the JSON key
"peer" (README and scripts read it)."""

from __future__ import annotations

from statistics import median

from rich.table import Table

from vigil.bench.side import STAGES, SideResult


def side_json(runs: SideResult | list[SideResult]) -> dict:
    """One side over its repeated runs: fps is the median (runs listed in fps_runs); stages,
    counts and memory are those of the last run."""
    runs = runs if isinstance(runs, list) else [runs]
    r = runs[-1]
    return {"fps": round(median(x.fps for x in runs), 3), "fps_runs": [round(x.fps, 3) for x in runs],
            "counts": r.counts, "stages_ms": {k: round(v, 2) for k, v in r.stages_ms.items()},
            "frames": r.frames, "seconds": round(r.seconds, 2),
            "rss_mib": {"start": round(r.rss_start_mib, 1), "peak": round(r.rss_peak_mib, 1),
                        "end": round(r.rss_end_mib, 1)}, **r.extra}


def _paired(a: list[SideResult], b: list[SideResult]) -> list[float]:
    """a/b fps of runs taken side by side in the same round (the least load-drift-prone ratio)."""
    return [round(x.fps / y.fps, 3) for x, y in zip(a, b) if y.fps > 0]


def result_json(ultralytics: list[SideResult] | None, vigil: list[SideResult], clip: dict,
                strided: list[SideResult] | None = None, single: list[SideResult] | None = None,
                reid: list[SideResult] | None = None) -> dict:
    """Each side is the list of its runs (one per --repeat round, sides alternating in a round)."""
    out: dict = {"clip": clip}
    if ultralytics:
        out["peer"] = side_json(ultralytics)
    out["vigil"] = side_json(vigil)
    # Throughput per camera-frame: Vigil's frames are summed over its cameras.
    out["ratio"] = (round(out["vigil"]["fps"] / out["peer"]["fps"], 3) if ultralytics and out["peer"]["fps"] > 0
                    else None)
    if ultralytics:
        out["ratio_runs"] = _paired(vigil, ultralytics)
    if single:  # the same run on one camera: does batching N cameras pay per camera-frame?
        out["vigil_1_camera"] = side_json(single)
        one = out["vigil_1_camera"]["fps"]
        out["per_camera_frame_gain"] = round(out["vigil"]["fps"] / one, 3) if one > 0 else None
        out["per_camera_frame_gain_runs"] = _paired(vigil, single)
    if strided:
        out["vigil_strided"] = side_json(strided)  # frame skipping: reported, never part of the ratio
    if reid:
        # more work than the ultralytics side does: reported, never part of the ratio
        out["vigil_reid"] = side_json(reid)
    return out


def _fmt_counts(c: dict) -> str:
    by = ", ".join(f"{k} {v['in']}/{v['out']}" for k, v in sorted(c.get("by_class", {}).items()))
    return f"in {c['in']} out {c['out']}" + (f" ({by})" if by else "")


def result_table(data: dict) -> Table:
    sides = [k for k in ("peer", "vigil_1_camera", "vigil", "vigil_strided", "vigil_reid") if k in data]
    t = Table(title=f"vigil bench pipeline: {data['clip']['video']} ({data['clip']['frames']} frames, "
                    f"{data['clip']['width']}x{data['clip']['height']})")
    t.add_column("")
    for s in sides:
        t.add_column("ultralytics" if s == "peer" else s, justify="right")
    row = lambda label, f: t.add_row(label, *[f(data[s]) for s in sides])  # noqa: E731
    row("cameras", lambda d: str(d.get("cameras", 1)))
    row("frame stride", lambda d: str(d.get("stride", 1)))
    row("camera-frames timed", lambda d: str(d["frames"]))
    row("fps (camera-frames/s)", lambda d: f"{d['fps']:.2f}")
    if any(len(data[s]["fps_runs"]) > 1 for s in sides):
        row("  fps of each run", lambda d: " ".join(f"{v:.2f}" for v in d["fps_runs"]))
    row("ms per camera-frame", lambda d: f"{1000 / d['fps']:.1f}" if d["fps"] else "-")
    row("CPU ms per camera-frame", lambda d: f"{d['cpu_ms_per_frame']:.1f}" if d.get("cpu_ms_per_frame") else "-")
    stage_names = list(STAGES) + ["count+draw", "other"]
    for st in stage_names:
        if any(st in data[s]["stages_ms"] for s in sides):
            row(f"  {st} ms", lambda d, st=st: f"{d['stages_ms'][st]:.1f}" if st in d["stages_ms"] else "")
    row("counts (line)", lambda d: _fmt_counts(d["counts"]))
    if "vigil_reid" in data:
        row("detections embedded", lambda d: f"{100 * d['reid_embedded_fraction']:.0f}%"
            if "reid_embedded_fraction" in d else "")
    row("RSS start/peak/end MiB", lambda d: "{start:.0f}/{peak:.0f}/{end:.0f}".format(**d["rss_mib"]))
    notes = []
    if data.get("ratio") is not None:
        runs = data.get("ratio_runs") or []
        each = f", per round {' '.join(f'{v:.2f}' for v in runs)}" if len(runs) > 1 else ""
        notes.append(f"ratio vigil/ultralytics fps = {data['ratio']:.2f}{each} (every frame on both sides)")
    if data.get("per_camera_frame_gain") is not None:
        notes.append(f"{data['vigil']['cameras']} cameras / 1 camera, camera-frames per second = "
                     f"{data['per_camera_frame_gain']:.2f}")
    notes.append("stage ms are thread time per camera-frame and overlap, so they need not add up to 1000/fps")
    t.caption = "; ".join(notes)
    return t
