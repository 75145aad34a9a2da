"""One engine-export cache for the whole test session: each export (OpenVINO IR, dynamic ONNX)
is made once per run, in a temporary folder, never in the user's cache."""

import pytest

from tests.support.data import MODELS, need


@pytest.fixture(scope="session", autouse=True)
def engine_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    path = tmp_path_factory.mktemp("engines")
    mp.setenv("VIGIL_ENGINE_CACHE", str(path))
    yield path
    mp.undo()


@pytest.fixture(scope="session")
def float_pt():
    return need(MODELS / "yolov8n_dequant.pt")
