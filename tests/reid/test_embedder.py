"""The embedding stage on real crops of a real frame."""

import cv2
import numpy as np
import pytest

from tests.support.data import MODELS, SHARED, need
from vigil.config.reid import ReidConfig
from vigil.errors import ConfigError, WeightsNotFound
from vigil.reid import Embedder
from vigil.reid.embedder import clip_boxes
from vigil.types import Detections

MSMT17 = MODELS / "osnet_x0_25_msmt17.pth"


@pytest.fixture(scope="module")
def embedder():
    return Embedder.from_config(ReidConfig(weights=str(need(MSMT17)), device="cpu", batch_size=4))


@pytest.fixture(scope="module")
def frame():
    return cv2.imread(str(need(SHARED / "images" / "bus.jpg")))  # 1080 x 810, people in front of a bus


def test_embed_fills_normalised_rows_and_zeros_degenerate_boxes(embedder, frame):
    h, w = frame.shape[:2]
    dets = Detections(
        xyxy=np.array([
            [50, 400, 250, 900],           # a person-sized box
            [670, 380, 810, 880],          # another
            [-40, 300, 120, 700],          # sticks out on the left: clipped, still embedded
            [w + 10, 10, w + 90, 200],     # wholly outside: degenerate
            [300, 300, 300.5, 500],        # under 2 px wide: degenerate
            [np.nan, 0, 10, 10],           # not finite: degenerate
            [0, 0, w, h],                  # whole frame
        ], np.float32),
        confidence=np.linspace(0.3, 0.9, 7), class_id=np.zeros(7), tracker_id=np.arange(7),
    )
    out = embedder.embed(frame, dets)
    assert out.embedding.shape == (7, 512) and out.embedding.dtype == np.float32
    np.testing.assert_array_equal(out.xyxy, dets.xyxy)
    np.testing.assert_array_equal(out.tracker_id, dets.tracker_id)
    norms = np.linalg.norm(out.embedding, axis=1)
    np.testing.assert_allclose(norms[[0, 1, 2, 6]], 1.0, atol=1e-5)
    np.testing.assert_array_equal(norms[[3, 4, 5]], 0.0)
    # the clipped box is embedded from exactly the in-frame pixels
    np.testing.assert_allclose(out.embedding[2], embedder.embed_crops([frame[300:700, 0:120]])[0], atol=1e-5)
    # different people are not the same vector
    assert out.embedding[0] @ out.embedding[1] < 0.99


def test_batch_size_does_not_change_the_result(embedder, frame):
    rng = np.random.default_rng(1)
    x1 = rng.uniform(0, 600, 9)
    y1 = rng.uniform(0, 700, 9)
    boxes = np.stack([x1, y1, x1 + rng.uniform(30, 200, 9), y1 + rng.uniform(60, 350, 9)], axis=1)
    crops = [frame[int(b[1]):int(np.ceil(b[3])), int(b[0]):int(np.ceil(b[2]))] for b in boxes]
    one_batch = Embedder(embedder.model, device="cpu", batch_size=64).embed_crops(crops)
    np.testing.assert_allclose(embedder.embed_crops(crops), one_batch, atol=1e-5)  # batches of 4


def test_colour_order_matters(embedder, frame):
    """BGR in, RGB to the network: feeding RGB by mistake gives another vector."""
    crop = frame[400:900, 50:250]
    bgr, rgb = embedder.embed_crops([crop, np.ascontiguousarray(crop[:, :, ::-1])])
    assert bgr @ rgb < 0.999


def test_empty_detections(embedder, frame):
    out = embedder.embed(frame, Detections.empty())
    assert out.embedding.shape == (0, 512)
    assert embedder.embed_crops([]).shape == (0, 512)


def test_clip_boxes_widens_to_whole_pixels():
    boxes, valid = clip_boxes(np.array([[1.5, 2.2, 10.1, 20.9], [5, 5, 6, 6]], np.float32), 8, 30)
    assert boxes.tolist() == [[1, 2, 8, 21], [5, 5, 6, 6]]
    assert valid.tolist() == [True, False]


def test_missing_weights_and_bad_device_are_user_errors(tmp_path):
    with pytest.raises(WeightsNotFound, match="re-ID weights file 'nope.pth' not found"):
        Embedder.from_config(ReidConfig(weights="nope.pth"), base_dir=tmp_path)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            Embedder.from_config(ReidConfig(weights=str(need(MSMT17)), device="cuda"))


def test_weights_resolve_relative_to_the_pipeline_file(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "reid.pth").symlink_to(need(MSMT17))
    emb = Embedder.from_config(ReidConfig(weights="models/reid.pth", device="cpu"), base_dir=tmp_path)
    assert emb.dim == 512 and str(emb.device) == "cpu" and not emb.half


def test_matches_a_plain_torch_reference(embedder, frame):
    """Preprocessing check: RGB order, [0, 1] scaling and ImageNet mean/std, written out the obvious way."""
    import torch

    crops = [frame[400:900, 50:250], frame[380:880, 670:810], frame[0:300, 0:500]]
    th, tw = embedder.input_size
    rgb = np.stack([cv2.cvtColor(cv2.resize(c, (tw, th), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
                    for c in crops])
    x = torch.from_numpy(rgb).permute(0, 3, 1, 2).float().contiguous() / 255.0
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        ref = torch.nn.functional.normalize(embedder.model.float()(x), dim=1).numpy()
    np.testing.assert_allclose(embedder.embed_crops(crops), ref, atol=1e-4)


def test_embed_batch_equals_frame_by_frame(embedder, frame):
    small = np.ascontiguousarray(frame[200:800, 100:700])
    a = Detections(xyxy=np.array([[50, 400, 250, 900], [670, 380, 810, 880]], np.float32))
    b = Detections(xyxy=np.array([[10, 10, 10, 50], [0, 100, 200, 500], [100, 0, 300, 400]], np.float32))
    together = embedder.embed_batch([frame, small], [a, b])
    assert [len(d) for d in together] == [2, 3]
    for image, dets, got in zip([frame, small], [a, b], together):
        np.testing.assert_allclose(got.embedding, embedder.embed(image, dets).embedding, atol=1e-5)
    assert not together[1].embedding[0].any()  # zero-width box
    assert together[1].embedded.tolist() == [False, True, True] and together[0].embedded.all()


def test_half_precision_path_keeps_the_embeddings(embedder, frame, monkeypatch):
    """No GPU here: force the fp16 branch (what CUDA runs) on CPU and compare with fp32."""
    import torch

    from vigil.reid import embedder as embedder_module
    from vigil.reid import load_osnet

    crops = [frame[400:900, 50:250], frame[380:880, 670:810], frame[0:300, 0:500]]
    monkeypatch.setattr(embedder_module, "use_half", lambda half, device: True)
    fp16 = Embedder(load_osnet(need(MSMT17)), device="cpu")
    assert fp16.half and fp16.model.conv1.conv.weight.dtype == torch.float16
    got = fp16.embed_crops(crops)
    assert got.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-3)
    assert ((got * embedder.embed_crops(crops)).sum(axis=1) > 0.999).all()


def test_rows_not_wanted_get_zero_vectors_without_a_crop(embedder, frame):
    dets = Detections(xyxy=np.array([[50, 400, 250, 900], [670, 380, 810, 880], [300, 350, 500, 800]], np.float32),
                      confidence=np.full(3, 0.9), class_id=np.zeros(3))
    full = embedder.embed(frame, dets).embedding
    seen, done = embedder.rows_seen, embedder.rows_embedded
    part = embedder.embed(frame, dets, np.array([True, False, True])).embedding
    assert embedder.rows_seen - seen == 3 and embedder.rows_embedded - done == 2  # one crop skipped
    np.testing.assert_allclose(part[[0, 2]], full[[0, 2]], atol=1e-5)
    np.testing.assert_array_equal(part[1], 0.0)
    out = embedder.embed_batch([frame, frame], [dets, dets], [None, np.zeros(3, bool)])
    np.testing.assert_allclose(out[0].embedding, full, atol=1e-5)  # None: every row
    np.testing.assert_array_equal(out[1].embedding, 0.0)
    assert out[0].embedded.all() and not out[1].embedded.any()  # the mask, not the zeros, says so
