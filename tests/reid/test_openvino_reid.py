"""OSNet on OpenVINO (reid.engine): embeddings agree with PyTorch on real detections of shared
videos, the export is cached, and the engine choice refuses clearly."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.support.data import MODELS, VIDEO, need
from vigil.config.reid import ReidConfig
from vigil.errors import ConfigError
from vigil.reid import Embedder

MSMT17 = MODELS / "osnet_x0_25_msmt17.pth"
pytest.importorskip("openvino")


def frames(name: str, every: int, n: int) -> list[np.ndarray]:
    with av.open(str(need(VIDEO / name))) as c:
        return [f.to_ndarray(format="bgr24") for i, f in enumerate(c.decode(video=0)) if i % every == 0][:n]


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    """Every detection above 0.3 on 4 frames each of a people clip and a traffic clip: the real
    crops re-ID sees (people, cars, trucks; small and large)."""
    from vigil.detect.yolo import YoloDetector

    det = YoloDetector(weights=need(MODELS / "yolov8n_dequant.pt"), batch=4)
    out = []
    for images in (frames("intel_one-by-one-person-detection.mp4", 40, 4), frames("saoyan_test.mp4", 60, 4)):
        for image, d in zip(images, det.detect(images)):
            for x1, y1, x2, y2 in d.xyxy[d.confidence > 0.3].astype(int):
                if x2 - x1 >= 4 and y2 - y1 >= 4:
                    out.append(image[max(0, y1):y2, max(0, x1):x2])
    assert len(out) >= 20, f"only {len(out)} detections to crop"
    return out


def make(engine: str, **kw) -> Embedder:
    return Embedder.from_config(ReidConfig(weights=str(need(MSMT17)), device="cpu", engine=engine, **kw))


def test_openvino_embeddings_agree_with_torch_on_real_crops(crops):
    torch_emb, ov_emb = make("torch"), make("openvino")
    assert make("auto").describe() == "openvino f32" and torch_emb.describe() == "torch cpu fp32"
    a, b = torch_emb.embed_crops(crops), ov_emb.embed_crops(crops)
    cos = (a * b).sum(axis=1)
    print(f"\n{len(crops)} crops, cosine torch vs openvino f32: min {cos.min():.6f}, median {np.median(cos):.6f}")
    assert cos.min() >= 0.99
    # and the embeddings still tell crops apart the same way: same nearest neighbour for each crop
    na, nb = a @ a.T - 2 * np.eye(len(a)), b @ b.T - 2 * np.eye(len(b))
    assert (na.argmax(1) == nb.argmax(1)).mean() >= 0.95


def test_export_is_cached_by_weights():
    from vigil.detect.export_cache import cache_dir
    from vigil.reid.openvino_reid import export_ir

    first = make("openvino")
    xml = export_ir(first.model, first.input_size, first._scale, first._shift)
    stamp = xml.stat().st_mtime_ns
    again = export_ir(make("torch").model, first.input_size, first._scale, first._shift)
    assert again == xml and xml.stat().st_mtime_ns == stamp  # same weights: not converted again
    assert first.describe() == "openvino f32" and str(xml).startswith(str(cache_dir()))


def test_engine_choice_refuses_clearly(monkeypatch):
    import vigil.reid.embedder as embedder_module

    monkeypatch.setattr(embedder_module, "installed", lambda pkg: False)  # as on a machine without openvino
    assert make("auto").describe() == "torch cpu fp32"
    with pytest.raises(ConfigError) as err:
        make("openvino")
    assert str(err.value).count("\n") == 0 and "'openvino' is not installed" in str(err.value)
    with pytest.raises(ValueError, match="engine"):
        ReidConfig(weights="x.pth", engine="tensorrt")
