"""Re-check the by-eye counts in README.md: slit-scan images and frame sheets of a clip.

A slit-scan stacks one pixel row (or column) of every frame over time: everything that crosses
that row leaves one streak, so crossings can be counted on a single picture and each streak's
frame number read off the time axis. `blobs` lists the streaks found by differencing against the
empty road (per-position median over time), to compare with what you see.

    python tests/data/slitscan.py scan  VIDEO OUT.png row|col POS LO HI
    python tests/data/slitscan.py blobs VIDEO row|col POS LO HI [--threshold 40] [--min-area 40]
    python tests/data/slitscan.py sheet VIDEO OUT.png START STEP COUNT [--cols 6] [--scale 0.5] [--line x1,y1,x2,y2]
"""

from __future__ import annotations

import argparse

import av
import cv2
import numpy as np


def read_slit(video: str, axis: str, pos: int, lo: int, hi: int) -> np.ndarray:
    """(T, HI-LO, 3) BGR: the slit of every frame."""
    with av.open(video) as c:
        return np.stack([(f.to_ndarray(format="bgr24")[pos, lo:hi] if axis == "row"
                          else f.to_ndarray(format="bgr24")[lo:hi, pos]) for f in c.decode(video=0)])


def scan(a) -> None:
    img = np.ascontiguousarray(read_slit(a.video, a.axis, a.pos, a.lo, a.hi))   # time runs down
    img = cv2.copyMakeBorder(img, 0, 0, 60, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    for t in range(0, img.shape[0], 30):
        cv2.line(img, (40, t), (59, t), (0, 255, 255), 1)
        if t % 90 == 0:
            cv2.putText(img, str(t), (0, t + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1)
    cv2.imwrite(a.out, img)


def blobs(a) -> None:
    s = read_slit(a.video, a.axis, a.pos, a.lo, a.hi).astype(np.float32)
    diff = np.abs(s - np.median(s, axis=0, keepdims=True)).max(axis=2)
    mask = cv2.morphologyEx((diff > a.threshold).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 9), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    found = sorted((stats[i] for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= a.min_area), key=lambda r: r[1])
    for x, t, w, h, area in found:
        print(f"frames {t:5d}..{t + h - 1:5d}  {a.axis} pixels {a.lo + x:4d}..{a.lo + x + w - 1:4d}  area {area}")
    print(f"{len(found)} streaks")


def sheet(a) -> None:
    want = set(range(a.start, a.start + a.step * a.count, a.step))
    tiles = []
    with av.open(a.video) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i in want:
                img = f.to_ndarray(format="bgr24")
                for ln in a.line:
                    x1, y1, x2, y2 = (int(float(v)) for v in ln.split(","))
                    cv2.line(img, (x1, y1), (x2, y2), (0, 0, 255), 2)
                img = cv2.resize(img, None, fx=a.scale, fy=a.scale)
                cv2.putText(img, str(i), (5, 25), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 255, 255), 2)
                tiles.append(img)
            if i >= max(want):
                break
    while len(tiles) % a.cols:
        tiles.append(np.zeros_like(tiles[0]))
    cv2.imwrite(a.out, np.vstack([np.hstack(tiles[i:i + a.cols]) for i in range(0, len(tiles), a.cols)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("scan", "blobs"):
        p = sub.add_parser(name)
        p.add_argument("video")
        if name == "scan":
            p.add_argument("out")
        p.add_argument("axis", choices=["row", "col"])
        for k in ("pos", "lo", "hi"):
            p.add_argument(k, type=int)
        p.add_argument("--threshold", type=float, default=40.0)
        p.add_argument("--min-area", type=int, default=40)
    p = sub.add_parser("sheet")
    p.add_argument("video")
    p.add_argument("out")
    for k in ("start", "step", "count"):
        p.add_argument(k, type=int)
    p.add_argument("--cols", type=int, default=6)
    p.add_argument("--scale", type=float, default=0.5)
    p.add_argument("--line", action="append", default=[])
    a = ap.parse_args()
    {"scan": scan, "blobs": blobs, "sheet": sheet}[a.cmd](a)


if __name__ == "__main__":
    main()
