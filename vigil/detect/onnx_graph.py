"""Exact rewrites of exported YOLO graphs that onnxruntime runs faster on the CPU.

The one rewrite so far is in the DFL box decoder: ultralytics exports it as
Reshape [b,4,16,A] -> Transpose(0,2,1,3) -> Softmax(axis=1) -> 1x1 Conv over the 16 bins.
onnxruntime computes a softmax on a middle axis by transposing to the last axis and back,
and on YOLOv8n at 640 that one node was the costliest of the graph (6.6 of ~90 ms per
frame, single-threaded). Rewritten as Transpose(0,1,3,2) -> Softmax(axis=-1) -> MatMul
over the bins, the softmax runs on the last axis directly. The same kernel sees the same
rows, so the values are the same; a quantized (ConvInteger) decoder becomes MatMulInteger,
which sums the same integers. The loader still checks that both graphs give bit-identical
outputs before using the rewritten one (`rewrite_is_exact`).
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)


def _const(model, name: str):
    from onnx import numpy_helper

    for init in model.graph.initializer:
        if init.name == name:
            return numpy_helper.to_array(init)
    return None


def rewrite_dfl(model) -> bool:
    """Rewrite the DFL softmax of an ultralytics export in place; False when the pattern
    (float or dynamically quantized 1x1 conv) is not there and nothing was changed."""
    from onnx import helper, numpy_helper

    g = model.graph
    consumers: dict[str, list] = {}
    for n in g.node:
        for x in n.input:
            consumers.setdefault(x, []).append(n)

    def only_consumer(name: str, op: str):
        c = consumers.get(name, [])
        return c[0] if len(c) == 1 and c[0].op_type == op else None

    for reshape in g.node:
        if reshape.op_type != "Reshape":
            continue
        shape = _const(model, reshape.input[1])
        if shape is None or shape.shape != (4,) or shape[2] != 16:
            continue
        transpose = only_consumer(reshape.output[0], "Transpose")
        if transpose is None or list(helper.get_attribute_value(transpose.attribute[0])) != [0, 2, 1, 3]:
            continue
        softmax = only_consumer(transpose.output[0], "Softmax")
        if softmax is None or [helper.get_attribute_value(a) for a in softmax.attribute if a.name == "axis"] != [1]:
            continue
        after = consumers.get(softmax.output[0], [])
        if len(after) != 1:
            continue
        new_nodes, drop = [], {id(transpose), id(softmax)}
        base = softmax.name or softmax.output[0]
        t_out, s_out = f"{base}_last_in", f"{base}_last"
        new_nodes.append(helper.make_node("Transpose", [reshape.output[0]], [t_out], perm=[0, 1, 3, 2],
                                          name=f"{base}_transpose_last"))
        new_nodes.append(helper.make_node("Softmax", [t_out], [s_out], axis=-1, name=f"{base}_last"))
        head = after[0]
        if head.op_type == "Conv":  # float export: Conv(w [1,16,1,1]) -> [b,1,4,A]
            w = _const(model, head.input[1])
            if w is None or w.shape != (1, 16, 1, 1) or len(head.input) > 2:
                continue
            w_name = f"{head.input[1]}_column"
            g.initializer.append(numpy_helper.from_array(w.reshape(16, 1), w_name))
            mm_out = f"{base}_bins"
            new_nodes.append(helper.make_node("MatMul", [s_out, w_name], [mm_out], name=f"{base}_bins"))
            drop.add(id(head))
            result, old_out = mm_out, head.output[0]
        elif head.op_type == "DynamicQuantizeLinear":  # dynamic int8 export: ... -> ConvInteger
            conv = only_consumer(head.output[0], "ConvInteger")
            w = _const(model, conv.input[1]) if conv is not None else None
            if w is None or w.shape != (1, 16, 1, 1) or conv.input[2] != head.output[2]:
                continue
            w_name = f"{conv.input[1]}_column"
            g.initializer.append(numpy_helper.from_array(w.reshape(16, 1), w_name))
            q_out = f"{base}_last_q"
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [s_out],
                                              [q_out, head.output[1], head.output[2]], name=f"{base}_last_q"))
            mm_out = f"{base}_bins_int"
            mm_in = [q_out, w_name, head.output[2]] + ([conv.input[3]] if len(conv.input) > 3 else [])
            new_nodes.append(helper.make_node("MatMulInteger", mm_in, [mm_out], name=f"{base}_bins_int"))
            drop.update({id(head), id(conv)})
            result, old_out = mm_out, conv.output[0]
        else:
            continue
        # Downstream expected [b,1,4,A] from the conv; the MatMul gives [b,4,A,1]. Every
        # consumer of the old output must be the final Reshape to [b,4,A], which accepts both.
        tail = consumers.get(old_out, [])
        reshapes_ok = True
        for t in tail:
            if t.op_type == "Reshape":
                continue
            # quantized path: Cast -> Mul(scale) -> Reshape, all elementwise
            if t.op_type in ("Cast", "Mul") and all(
                    c.op_type in ("Mul", "Reshape") for c in consumers.get(t.output[0], [])):
                continue
            reshapes_ok = False
        if not reshapes_ok:
            continue
        for t in tail:
            t.input[list(t.input).index(old_out)] = result
        # Insert the new nodes where the old softmax was, keeping the graph sorted.
        nodes = list(g.node)
        at = next(i for i, n in enumerate(nodes) if n is softmax)
        kept = [n for n in nodes[:at] if id(n) not in drop] + new_nodes + [n for n in nodes[at:] if id(n) not in drop]
        del g.node[:]
        g.node.extend(kept)
        del g.value_info[:]  # shapes inferred on load; stale entries would contradict them
        used = {x for n in g.node for x in n.input} | {o.name for o in g.output}
        unused = [i for i in g.initializer if i.name not in used]
        for init in unused:  # the old conv weights
            g.initializer.remove(init)
        return True
    return False


def rewrite_is_exact(original: bytes, rewritten: bytes, input_name: str, shape, options) -> bool:
    """Run both graphs on one seeded input; True only when every output is bit-identical."""
    import onnxruntime as ort

    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    outs = []
    for blob in (original, rewritten):
        s = ort.InferenceSession(blob, options, providers=["CPUExecutionProvider"])
        outs.append(s.run(None, {input_name: x}))
    return all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(*outs))


def fast_model_bytes(path, options) -> bytes | None:
    """The rewritten graph of the ONNX file at `path` as bytes, or None to use the file as is
    (no DFL pattern, not a float32 input, or the rewrite was not exact)."""
    import onnx

    original = path.read_bytes()
    try:
        model = onnx.load_from_string(original)
    except Exception:  # onnxruntime will report an unreadable file itself, in its own words
        return None
    inp = model.graph.input[0]
    dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    if inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT or len(dims) != 4 or 0 in dims[1:]:
        return None
    if not rewrite_dfl(model):
        return None
    rewritten = model.SerializeToString()
    shape = [dims[0] or 1] + dims[1:]
    if not rewrite_is_exact(original, rewritten, inp.name, shape, options):
        log.warning("DFL rewrite of %s was not bit-identical; using the graph as exported", path.name)
        return None
    return rewritten
