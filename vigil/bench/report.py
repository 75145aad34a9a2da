"""The benchmark's result as JSON or a table."""

from __future__ import annotations

from rich.table import Table

from vigil.bench.ours import STAGES
from vigil.bench.peer import SideResult


def side_json(r: SideResult) -> dict:
    return {"fps": round(r.fps, 3), "counts": r.counts, "stages_ms": {k: round(v, 2) for k, v in r.stages_ms.items()},
            "frames": r.frames, "seconds": round(r.seconds, 2),
            "rss_mib": {"start": round(r.rss_start_mib, 1), "peak": round(r.rss_peak_mib, 1),
                        "end": round(r.rss_end_mib, 1)}, **r.extra}


def result_json(peer: SideResult | None, vigil: SideResult, clip: dict, strided: SideResult | None = None,
                single: SideResult | None = None) -> dict:
    out: dict = {"clip": clip}
    if peer is not None:
        out["peer"] = side_json(peer)
    out["vigil"] = side_json(vigil)
    # Throughput per camera-frame: Vigil's frames are summed over its cameras.
    out["ratio"] = round(vigil.fps / peer.fps, 3) if peer is not None and peer.fps > 0 else None
    if single is not None:  # the same run on one camera: does batching N cameras pay per camera-frame?
        out["vigil_1_camera"] = side_json(single)
        out["per_camera_frame_gain"] = round(vigil.fps / single.fps, 3) if single.fps > 0 else None
    if strided is not None:
        out["vigil_strided"] = side_json(strided)  # frame skipping: reported, never part of the ratio
    return out


def _fmt_counts(c: dict) -> str:
    by = ", ".join(f"{k} {v['in']}/{v['out']}" for k, v in sorted(c.get("by_class", {}).items()))
    return f"in {c['in']} out {c['out']}" + (f" ({by})" if by else "")


def result_table(data: dict) -> Table:
    sides = [k for k in ("peer", "vigil_1_camera", "vigil", "vigil_strided") if k in data]
    t = Table(title=f"vigil bench pipeline: {data['clip']['video']} ({data['clip']['frames']} frames, "
                    f"{data['clip']['width']}x{data['clip']['height']})")
    t.add_column("")
    for s in sides:
        t.add_column(s, justify="right")
    row = lambda label, f: t.add_row(label, *[f(data[s]) for s in sides])  # noqa: E731
    row("cameras", lambda d: str(d.get("cameras", 1)))
    row("frame stride", lambda d: str(d.get("stride", 1)))
    row("camera-frames timed", lambda d: str(d["frames"]))
    row("fps (camera-frames/s)", lambda d: f"{d['fps']:.2f}")
    row("ms per camera-frame", lambda d: f"{1000 / d['fps']:.1f}" if d["fps"] else "-")
    row("CPU ms per camera-frame", lambda d: f"{d['cpu_ms_per_frame']:.1f}" if d.get("cpu_ms_per_frame") else "-")
    stage_names = list(STAGES) + ["count+draw", "other"]
    for st in stage_names:
        if any(st in data[s]["stages_ms"] for s in sides):
            row(f"  {st} ms", lambda d, st=st: f"{d['stages_ms'][st]:.1f}" if st in d["stages_ms"] else "")
    row("counts (line)", lambda d: _fmt_counts(d["counts"]))
    row("RSS start/peak/end MiB", lambda d: "{start:.0f}/{peak:.0f}/{end:.0f}".format(**d["rss_mib"]))
    notes = []
    if data.get("ratio") is not None:
        notes.append(f"ratio vigil/peer fps = {data['ratio']:.2f} (every frame on both sides)")
    if data.get("per_camera_frame_gain") is not None:
        notes.append(f"{data['vigil']['cameras']} cameras / 1 camera, camera-frames per second = "
                     f"{data['per_camera_frame_gain']:.2f}")
    notes.append("stage ms are thread time per camera-frame and overlap, so they need not add up to 1000/fps")
    t.caption = "; ".join(notes)
    return t
