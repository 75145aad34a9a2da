"""The exact DFL rewrite (vigil/detect/onnx_graph.py): the real int8 export gives
bit-identical outputs on real frames; other graphs are left alone."""

import av
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from tests.support.data import VIDEO, YOLO_ONNX, need
from vigil.detect.letterbox import PlanarLetterbox
from vigil.detect.onnx_graph import fast_model_bytes, rewrite_dfl, rewrite_is_exact
from vigil.detect.onnx_workers import OnnxWorkers, session_options


def _session(model):
    return ort.InferenceSession(model, session_options(1), providers=["CPUExecutionProvider"])


def _softmax_axes(model):
    return [helper.get_attribute_value(a) for n in model.graph.node if n.op_type == "Softmax"
            for a in n.attribute if a.name == "axis"]


def test_real_int8_export_is_rewritten_and_stays_bit_identical_on_real_frames():
    path = need(YOLO_ONNX)
    fast = fast_model_bytes(path, session_options(1))
    assert fast is not None
    model = onnx.load_from_string(fast)
    onnx.checker.check_model(model)
    assert _softmax_axes(onnx.load(str(path))) == [1] and _softmax_axes(model) == [-1]
    assert "MatMulInteger" in {n.op_type for n in model.graph.node}
    ref, new = _session(str(path)), _session(fast)
    prep = PlanarLetterbox()
    with av.open(str(need(VIDEO / "saoyan_test.mp4"))) as c:
        frames = [f.to_ndarray(format="bgr24") for _, f in zip(range(60), c.decode(video=0))][::12]
    for im in frames:
        x = prep(im, 640, 640)[0]
        a, b = ref.run(None, {"images": x})[0], new.run(None, {"images": x})[0]
        assert a.shape == b.shape == (1, 84, 8400)
        assert np.array_equal(a, b)
        assert a[0, 4:].max() > 0.5  # real detections, not an empty scene


def test_worker_pool_uses_the_rewrite():
    pool = OnnxWorkers(need(YOLO_ONNX), 1)
    try:
        assert pool.rewritten
    finally:
        pool.close()


def _float_dfl_model(anchors=8):
    """The float export's decoder alone: [1,64,A] -> Reshape -> Transpose -> Softmax -> Conv -> [1,4,A]."""
    w = np.arange(16, dtype=np.float32).reshape(1, 16, 1, 1)
    nodes = [
        helper.make_node("Reshape", ["x", "shape4"], ["r"]),
        helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3]),
        helper.make_node("Softmax", ["t"], ["s"], axis=1),
        helper.make_node("Conv", ["s", "w"], ["c"], kernel_shape=[1, 1]),
        helper.make_node("Reshape", ["c", "shape3"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array([1, 4, 16, anchors], np.int64), "shape4"),
             numpy_helper.from_array(np.array([1, 4, anchors], np.int64), "shape3"),
             numpy_helper.from_array(w, "w")]
    graph = helper.make_graph(nodes, "dfl", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, anchors])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, anchors])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_float_decoder_is_rewritten_to_the_same_function():
    model = _float_dfl_model()
    original = model.SerializeToString()
    assert rewrite_dfl(model)
    onnx.checker.check_model(model)
    assert _softmax_axes(model) == [-1] and "Conv" not in {n.op_type for n in model.graph.node}
    x = np.random.default_rng(3).normal(0, 4, (1, 64, 8)).astype(np.float32)
    a = _session(original).run(None, {"x": x})[0]
    b = _session(model.SerializeToString()).run(None, {"x": x})[0]
    assert b.shape == a.shape == (1, 4, 8)
    assert np.allclose(a, b, rtol=1e-6, atol=1e-6)


def test_the_check_refuses_a_rewrite_that_changes_the_output():
    model = _float_dfl_model()
    original = model.SerializeToString()
    assert rewrite_dfl(model)
    for init in model.graph.initializer:  # a broken rewrite: other bin weights
        if init.name.endswith("_column"):
            init.CopyFrom(numpy_helper.from_array(np.ones((16, 1), np.float32), init.name))
    assert not rewrite_is_exact(original, model.SerializeToString(), "x", [1, 64, 8], session_options(1))


def test_graphs_without_the_decoder_are_left_alone(tmp_path):
    model = _float_dfl_model()
    for n in model.graph.node:
        if n.op_type == "Softmax":
            n.attribute[0].i = 2  # not the DFL's axis
    before = model.SerializeToString()
    assert not rewrite_dfl(model)
    assert model.SerializeToString() == before
    path = tmp_path / "other.onnx"
    onnx.save(model, str(path))
    assert fast_model_bytes(path, session_options(1)) is None  # 3-D input, nothing to do
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    assert fast_model_bytes(tmp_path / "junk.onnx", session_options(1)) is None


def test_rewrite_keeps_graph_topologically_sorted():
    model = _float_dfl_model()
    assert rewrite_dfl(model)
    seen = {i.name for i in model.graph.input} | {i.name for i in model.graph.initializer}
    for n in model.graph.node:
        assert all(x in seen for x in n.input if x), n.name
        seen.update(n.output)
