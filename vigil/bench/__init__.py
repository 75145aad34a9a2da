"""Benchmarks, one module per thing measured; `vigil bench ...` (vigil/cli/bench_*.py) only
parses options, calls them and prints. Stage times go on a `vigil.timing.StageClock` passed in.

pipeline (+ pipeline_vigil, pipeline_ultralytics, pipeline_report, side, clip): Vigil's replay
    against the ultralytics track + ObjectCounter loop
soak: memory over a long replay          memory: RSS sampling, CPU time
count_queries: store count-query times   counter: counting-stage time per frame
tracker (+ synthetic_scene, ultralytics_trackers): tracker time per frame
reid_embedder: re-ID crops per second    fusion_speed: ms per visible + thermal pair
onnx_batching: cross-camera batching of the int8 ONNX detector on a CPU (python -m)
live_capacity: live daemon capacity, latency and parity on RTSP (bench/live_capacity.py serves)
"""
