"""`vigil check CONFIG`: validate a site and its pipeline without running anything heavy."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from vigil.cli.app import app
from vigil.config.fusion import ThermalConfig
from vigil.config.pipeline import DetectorConfig
from vigil.errors import ConfigError, SourceError, VigilError


def _first_frame_size(url: str, transport: str, timeout: float) -> tuple[int, int]:
    """(width, height) of the first decoded frame of a file or stream (PyAV)."""
    import av

    opts = {"rtsp_transport": transport} if url.startswith("rtsp") else {}
    try:
        with av.open(url, options=opts, timeout=timeout) as container:
            if not container.streams.video:
                raise VigilError("has no video stream")
            for frame in container.decode(video=0):
                return frame.width, frame.height
    except (av.error.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise VigilError(f"cannot be opened or decoded ({' '.join(str(exc).split())[:160]})") from None
    raise VigilError("has no decodable frame")


# The least share of each camera's view the other must see, under thermal.homography: real pairs
# overlap far more (RoadScene's reference registrations: 71% of the thermal frame, 99% of the
# visible one); a pasted visible -> thermal matrix, the usual slip, gives under 7% on one side.
MIN_OVERLAP = 0.1


def _thermal_size(source: str, base: Path, transport: str, timeout: float) -> tuple[str, int, int]:
    """(source as shown, width, height) of a thermal source's first frame: a stream, a file, or
    an image folder (resolved against the site config's folder, as replay does)."""
    from vigil.fusion.pairs import read_pair_image
    from vigil.secrets import mask_url
    from vigil.sources.factory import thermal_path
    from vigil.sources.paired import ImageFolderSource
    from vigil.sources.urls import is_stream_url

    if is_stream_url(source):
        return mask_url(source), *_first_frame_size(source, transport, timeout)
    path = thermal_path(source, base)
    if path.is_dir():
        folder = ImageFolderSource(path)  # SourceError when it holds no images
        h, w = read_pair_image(folder.files[0]).shape[:2]
        return str(path), w, h
    if not path.is_file():
        raise VigilError(f"does not exist (looked for {path}); check thermal.source: a file or image folder "
                         "relative to the site config, or an rtsp:// stream")
    return str(path), *_first_frame_size(str(path), "tcp", timeout)


def _check_thermal(camera_id: str, th: ThermalConfig, rgb_url: str, rgb_size: tuple[int, int] | None,
                   base: Path, transport: str, timeout: float) -> str:
    """The camera's thermal source opened like its RGB one, and thermal.homography checked against
    both frames; the fine line, or a VigilError naming the camera and the thermal source."""
    from vigil.fusion.register import RegistrationError, as_homography, view_overlap
    from vigil.secrets import mask_url
    from vigil.sources.urls import is_stream_url

    source = mask_url(th.source)
    if th.mode == "rgb":
        return f"camera {camera_id!r}: thermal mode rgb, so thermal source {source} is not read"
    if is_stream_url(rgb_url) != is_stream_url(th.source):
        raise VigilError(f"camera {camera_id!r}: RGB source and thermal source {source} must both be streams or "
                         "both be recordings")
    try:
        shown, w, h = _thermal_size(th.source, base, transport, timeout)
    except VigilError as exc:
        raise VigilError(f"camera {camera_id!r}: thermal source {source} {exc}") from None
    line = f"camera {camera_id!r}: thermal {shown} opens at {w}x{h}"
    if th.homography is None:
        return line + "; no thermal.homography, so registration is estimated on the first frame pairs"
    if rgb_size is None:
        return line + "; thermal.homography not checked (the RGB source did not open)"
    what = f"camera {camera_id!r} thermal.homography"
    try:
        H = as_homography(th.homography, what)
        on_thermal, on_visible = view_overlap(H, rgb_size, (w, h))
    except RegistrationError as exc:
        raise VigilError(f"{exc}" if str(exc).startswith(what) else f"{what} {exc}; re-register the cameras "
                         "(vigil register VIS IR)") from None
    overlap = (f"thermal.homography lays the RGB frame over {on_thermal:.0%} of it, and it covers "
               f"{on_visible:.0%} of the RGB view")
    if min(on_thermal, on_visible) < MIN_OVERLAP:
        # A narrow thermal lens inside a wide RGB view: the thermal frame lies (mostly) inside the RGB one.
        swapped_fits = _overlap_if_swapped(H, rgb_size, (w, h)) >= MIN_OVERLAP
        if swapped_fits or on_thermal < 0.5:
            raise VigilError(f"{what} lays the {rgb_size[0]}x{rgb_size[1]} RGB frame over {on_thermal:.0%} of the "
                             f"{w}x{h} thermal frame, which covers {on_visible:.0%} of the RGB view: the cameras "
                             "would hardly overlap. " + (
                                 "It takes the thermal -> visible matrix (vigil register VIS IR prints both); is "
                                 "this the visible -> thermal one?" if swapped_fits else
                                 "Re-register the cameras (vigil register VIS IR)."))
        return line + f"; {overlap}: little overlap, as with a narrow thermal lens in a wide RGB view"
    return line + f"; {overlap}"


def _overlap_if_swapped(H, rgb_size: tuple[int, int], thermal_size: tuple[int, int]) -> float:
    """The smaller overlap share the inverted matrix would give (0 when it is no registration):
    a pasted visible -> thermal matrix overlaps little, and its inverse (the right one) well."""
    from vigil.fusion.register import RegistrationError, invert_homography, view_overlap

    try:
        return min(view_overlap(invert_homography(H), rgb_size, thermal_size))
    except (RegistrationError, ValueError):  # numpy.linalg.LinAlgError is a ValueError
        return 0.0


def _detector_labels(weights: Path, det: DetectorConfig) -> str:
    """The detector's labels read from the weights' metadata (no model built), checked against
    detector.classes: a mapped label the model lacks, or no kept class at all, is a ConfigError."""
    from vigil.detect.labels import class_lookup, model_labels

    names = model_labels(weights)
    if not names:
        return f"detector labels: not stored in {weights.name}; detector.classes is checked when the model loads"
    vocab = det.vocabulary
    lut = class_lookup(names, det.label_map, vocab)
    kept = {vocab.id(c) for c in det.kept_classes}
    reported = {vocab.names[c] for c in lut[: max(names) + 1].tolist() if c in kept}
    if not reported:
        raise ConfigError(f"detector weights '{weights.name}' detect none of the classes {det.kept_classes}; "
                          f"its labels: {', '.join(list(names.values())[:20])}")
    mapped = [f"{names[i]}->{vocab.names[c]}" for i, c in enumerate(lut[: max(names) + 1].tolist())
              if c in kept and i in names]
    shown = ", ".join(mapped[:12]) + (f" (+{len(mapped) - 12} more)" if len(mapped) > 12 else "")
    return f"detector labels: {len(names)} in {weights.name}; counted as {shown}"


def check_config(path: Path, say=lambda line: None) -> tuple[list[str], list[str]]:
    """(what was checked and is fine, problems): the config, the weights, every camera's source
    (opened, one frame decoded) and its lines, zones and masks against that frame, and its
    thermal source and thermal.homography where it has them. `say` hears
    each fine item as soon as it is known (opening a stream may take its open_timeout)."""
    from vigil.config.load import load_site
    from vigil.config.scale import to_pixels
    from vigil.count.geometry import outside_frame
    from vigil.secrets import mask_url
    from vigil.sources.file import refuse_folder
    from vigil.sources.nvr import stream_target
    from vigil.sources.urls import is_stream_url
    from vigil.weights import resolve_weights

    cfg = load_site(path)  # a config error is the one line: nothing else can be checked without it
    ok: list[str] = []

    def fine(line: str) -> None:
        ok.append(line)
        say(line)

    fine(f"config {cfg.site_path} and pipeline {cfg.pipeline_path} are valid")
    problems: list[str] = []
    weights = [("detector weights", cfg.pipeline.detector.weights)]
    if cfg.pipeline.reid is not None:
        weights.append(("re-ID weights", cfg.pipeline.reid.weights))
    for what, name in weights:
        try:
            path = resolve_weights(name, cfg.weights_base(), what)
            fine(f"{what}: {path}")
            if what == "detector weights":
                fine(_detector_labels(path, cfg.pipeline.detector))
        except VigilError as exc:
            problems.append(str(exc))
    live = cfg.site.live
    for cam in cfg.site.cameras:
        try:
            source = cfg.source_of(cam) if cam.source else None
            target = stream_target(cam, live, source)
        except VigilError as exc:
            problems.append(str(exc))
            continue
        shown = mask_url(target.url)
        size = None
        try:
            if not is_stream_url(target.url):
                refuse_folder(target.url, cam.id)
            size = _first_frame_size(target.url, target.transport, live.open_timeout)
            w, h = size
            resolved = to_pixels(cam, w, h)
            outside = outside_frame(resolved, w, h)
            problems += outside
            if not outside:
                fine(f"camera {cam.id!r}: {shown} opens at {w}x{h}; {len(cam.lines)} line(s), {len(cam.zones)} "
                     f"zone(s), {len(cam.masks)} mask(s) inside the frame"
                     + (", ground plane set" if cam.ground is not None else ""))
        except (ConfigError, SourceError) as exc:  # the lines against the frame; a folder as source
            problems.append(str(exc))
        except VigilError as exc:  # the source
            problems.append(f"camera {cam.id!r}: source {shown} {exc}")
        if cam.thermal is not None:  # checked whether or not the RGB source opened: both lines help
            try:
                fine(_check_thermal(cam.id, cam.thermal, target.url, size, cfg.site_dir, target.transport,
                                    live.open_timeout))
            except VigilError as exc:
                problems.append(str(exc))
    return ok, problems


@app.command("check")
def check_cmd(config: Path = typer.Argument(..., help="site config YAML (configs/*.yaml)")) -> None:
    """Check a site config without running it: the config and its pipeline are valid, the weights
    are found, every camera's source opens and decodes a frame (files and RTSP alike), and the
    lines, zones and masks lie inside that frame (scaled by reference_size or relative
    coordinates). A camera's thermal source (file, image folder or stream) is opened the same
    way, and its thermal.homography must lay the RGB frame over a real part of the thermal one.
    Exit 0 when all is well, 2 with one line per problem otherwise."""
    _, problems = check_config(config, say=lambda line: print(f"ok: {line}", flush=True))
    if problems:
        for p in problems[:-1]:
            print(f"error: {' '.join(p.split())}", file=sys.stderr)
        raise VigilError(problems[-1])  # the last one through the CLI's own error line and exit code
