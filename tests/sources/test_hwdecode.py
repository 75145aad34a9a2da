"""Hardware decode choice (vigil.sources.hwdecode) on a real H.264 file; the RTSP fallback end to
end is in tests/live/test_rtsp_reader.py."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.support.data import VIDEO, need
from vigil.errors import ConfigError
from vigil.sources.hwdecode import SOFTWARE, decoder_context, open_decoder


@pytest.fixture
def stream():
    with av.open(str(need(VIDEO / "saoyan_test.mp4"))) as container:
        yield container, container.streams.video[0]


def test_a_separate_decoder_context_decodes_the_streams_frames(stream):
    """The device path decodes with its own codec context given the stream's extradata: the same
    construction without a device must give exactly the stream's own frames."""
    container, st = stream
    ctx = decoder_context(st, None)
    mine, own = [], []
    for packet in container.demux(st):
        if packet.size:
            mine += [f.to_ndarray(format="bgr24") for f in ctx.decode(packet)]
        own += [f.to_ndarray(format="bgr24") for f in packet.decode()]
        if len(own) >= 30:
            break
    assert len(mine) >= 25 and all(np.array_equal(a, b) for a, b in zip(mine, own))


def test_none_auto_and_a_named_device_that_cannot_decode(stream):
    _, st = stream
    assert open_decoder("none", st).device == SOFTWARE and open_decoder("none", st).fallback_reason is None
    auto = open_decoder("auto", st)
    assert auto.fallback_reason is None  # auto never reports a fallback: software is its normal answer
    if auto.device != SOFTWARE:
        pytest.skip(f"this machine decodes on {auto.device}; the fallback cases need a machine without one")
    for kind in ("cuda", "vaapi", "qsv"):
        d = open_decoder(kind, st)
        assert d.device == SOFTWARE and d.context is None and kind in d.fallback_reason, d


def test_unknown_hwaccel_is_one_config_error(tmp_path):
    from vigil.config.load import load_site

    (tmp_path / "p.yaml").write_text(f"detector: {{weights: {VIDEO / 'x.pt'}}}\n")
    (tmp_path / "s.yaml").write_text("site: s\npipeline: p.yaml\nlive: {hwaccel: nvdec}\n"
                                     "cameras: [{id: a, source: 'rtsp://127.0.0.1/a'}]\n")
    with pytest.raises(ConfigError) as err:
        load_site(tmp_path / "s.yaml")
    assert "hwaccel" in str(err.value) and "'cuda'" in str(err.value) and "\n" not in str(err.value).strip()
