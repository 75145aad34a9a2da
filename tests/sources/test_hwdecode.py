"""Hardware decode choice (vigil.sources.hwdecode) on a real H.264 file; the RTSP fallback end to
end is in tests/live/test_rtsp_reader.py."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.support.data import VIDEO, need
from vigil.errors import ConfigError
from vigil.sources.hwdecode import SOFTWARE, Decoder, decoder_context, open_decoder, to_bgr


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


def test_a_file_asked_for_cuda_decodes_the_same_frames_in_software(tmp_path, caplog):
    """FileSource (replay) with hwaccel cuda on a machine without it: one warning, the frames of `none`."""
    import logging

    from tests.support.data import cut_video
    from vigil.sources.file import FileSource

    clip = cut_video(need(VIDEO / "saoyan_test.mp4"), tmp_path / "c.mp4", 12)
    with caplog.at_level(logging.WARNING, logger="vigil"):
        hw = FileSource(clip, "cam", stride=2, hwaccel="cuda")
        got = [f.image for f in hw]
    if hw.decoder.device != SOFTWARE:
        pytest.skip(f"this machine decodes on {hw.decoder.device}")
    want = [f.image for f in FileSource(clip, "cam", stride=2, hwaccel="none")]
    assert len(got) == len(want) == 6 and all(np.array_equal(a, b) for a, b in zip(got, want))
    warned = [r.getMessage() for r in caplog.records if getattr(r, "event", None) == "hwaccel_fallback"]
    assert len(warned) == 1 and warned[0].startswith("c.mp4: hwaccel cuda:") and "software" in warned[0]


def test_replay_refuses_an_unknown_hwaccel(capsys):
    from vigil.cli import main

    assert main(["replay", "configs/demo.yaml", "--hwaccel", "nvdec"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--hwaccel 'nvdec'" in err and "cuda" in err


def test_device_frames_become_the_same_bgr_as_software_frames(stream):
    """A device decodes to NV12: the same samples as the software decoder's yuv420p, but NV12
    converts to BGR by another path (up to 16 levels apart, enough to move a box). to_bgr lays
    a device frame out as software would first, so counts do not depend on the decoder."""
    container, st = stream
    frame = next(container.decode(st))
    software = frame.to_ndarray(format="bgr24")
    nv12 = frame.reformat(format="nv12")  # what a cuda decoder hands back, downloaded
    assert not np.array_equal(nv12.to_ndarray(format="bgr24"), software)  # the difference is real
    assert np.array_equal(to_bgr(nv12, Decoder(object(), "cuda"), st), software)  # type: ignore[arg-type]


def test_a_damaged_packet_on_a_device_is_not_a_device_failure():
    """Stream damage is resynced like in software; it must not switch the camera off its device."""
    import threading

    from vigil.sources.rtsp import StreamReader, _Resync

    class Damaged:
        def decode(self, packet):
            raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")

    reader = StreamReader("cam", "rtsp://h/x", None, threading.Event(), hwaccel="cuda")
    dec = Decoder(Damaged(), "cuda")  # type: ignore[arg-type]
    with pytest.raises(av.error.InvalidDataError):
        reader._decode(dec, object())
    assert reader.stats.decode_fallbacks == 0 and dec.device == "cuda"
    assert not issubclass(av.error.InvalidDataError, _Resync)
