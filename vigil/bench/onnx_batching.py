"""Why cross-camera batching cannot pay on a CPU with the shipped int8 detector.

Measures, on real frames of a video and the given dynamically quantized ONNX model:
1. one single-threaded onnxruntime session, batch 1: ms per frame;
2. the same graph with its batch dimension opened (head reshapes take the batch from the
   input), batch 4: ms per frame, and how far each frame's output moves when it shares a
   batch with three other frames (DynamicQuantizeLinear picks one scale and zero point for
   the whole batch tensor, so a frame's numbers depend on its batch companions);
3. two single-threaded sessions side by side on the two cores: the inference-only ceiling
   in frames per second that no pipeline around it can exceed (Vigil's exact DFL rewrite,
   vigil/detect/onnx_graph.py, lowers the per-frame time a little; shown separately).

    python -m vigil.bench.onnx_batching --video ../shared/data/video/saoyan_test.mp4 \
        --weights ../shared/data/models/yolov8n_int8.onnx
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import av
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

from vigil.detect.letterbox import PlanarLetterbox
from vigil.detect.onnx_graph import fast_model_bytes
from vigil.detect.onnx_workers import session_options


def frames(video: str, n: int, step: int = 10) -> list[np.ndarray]:
    prep = PlanarLetterbox()
    with av.open(video) as c:
        imgs = [f.to_ndarray(format="bgr24") for _, f in zip(range(n * step), c.decode(video=0))][::step]
    return [prep(im, 640, 640)[0].copy() for im in imgs]


def open_batch(path: str) -> bytes:
    """The graph with a symbolic batch: input/output dim 0 and the head's fixed Reshape shapes."""
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    for n in g.node:
        if n.op_type == "Reshape" and n.input[1] in inits:
            a = numpy_helper.to_array(inits[n.input[1]])
            if a.size >= 3 and a[0] == 1 and a[1] != -1:  # [1, C, ...] head shapes; [1,-1,1,1] are weight scales
                a = a.copy()
                a[0] = 0  # 0 = copy the input's batch dimension
                inits[n.input[1]].CopyFrom(numpy_helper.from_array(a, n.input[1]))
    g.input[0].type.tensor_type.shape.dim[0].dim_param = "N"
    g.output[0].type.tensor_type.shape.dim[0].dim_param = "N"
    del g.value_info[:]
    return m.SerializeToString()


def ms_per_frame(session, batches: list[np.ndarray], seconds: float) -> float:
    session.run(None, {"images": batches[0]})
    t0, n, i = time.perf_counter(), 0, 0
    while time.perf_counter() - t0 < seconds:
        b = batches[i % len(batches)]
        session.run(None, {"images": b})
        n += len(b)
        i += 1
    return 1000 * (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--video", required=True)
    ap.add_argument("--weights", required=True)
    ap.add_argument("--seconds", type=float, default=8.0, help="timing per measurement")
    args = ap.parse_args()
    xs = frames(args.video, 8)
    opts = session_options(1)
    one = ort.InferenceSession(args.weights, opts, providers=["CPUExecutionProvider"])
    dyn = ort.InferenceSession(open_batch(args.weights), opts, providers=["CPUExecutionProvider"])
    quads = [np.concatenate(xs[i:i + 4]) for i in (0, 4)]
    alone = [one.run(None, {"images": x})[0][0] for x in xs[:4]]
    together = dyn.run(None, {"images": quads[0]})[0]
    score_moves = max(float(np.abs(a[4:] - b[4:]).max()) for a, b in zip(alone, together))
    box_moves = max(float(np.abs(a[:4] - b[:4])[:, a[4:].max(axis=0) > 0.25].max(initial=0))
                    for a, b in zip(alone, together))
    fast = fast_model_bytes(Path(args.weights), opts)
    rewritten = ort.InferenceSession(fast, opts, providers=["CPUExecutionProvider"]) if fast else one
    out = {"batch1_ms_per_frame": round(ms_per_frame(one, xs, args.seconds), 1),
           "batch1_ms_per_frame_with_vigil_dfl_rewrite": round(ms_per_frame(rewritten, xs, args.seconds), 1),
           "batch4_ms_per_frame": round(ms_per_frame(dyn, quads, args.seconds), 1),
           "batch4_max_class_score_change": round(score_moves, 4),
           "batch4_max_box_change_px_for_scores_over_0.25": round(box_moves, 2)}
    sessions = [ort.InferenceSession(args.weights, opts, providers=["CPUExecutionProvider"]) for _ in range(2)]
    counts = [0, 0]
    stop = time.perf_counter() + args.seconds

    def work(k: int) -> None:
        while time.perf_counter() < stop:
            sessions[k].run(None, {"images": xs[counts[k] % len(xs)]})
            counts[k] += 1

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out["two_sessions_inference_only_fps"] = round(sum(counts) / (time.perf_counter() - t0), 2)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
