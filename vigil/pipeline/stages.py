"""What a run is made of, from a loaded site config: the shared expensive stages (detector,
optional re-ID embedder) and, for replay, which file goes to which camera."""

from __future__ import annotations

from pathlib import Path

from vigil.config.load import LoadedConfig, resolve_file
from vigil.errors import ConfigError
from vigil.pipeline.replay import ReplayJob
from vigil.sources.file import refuse_folder, video_file
from vigil.sources.rtsp import is_stream_url


def build_stages(config: LoadedConfig):
    """The shared, expensive stages: detector and (optional) re-ID embedder."""
    from vigil.detect.yolo import YoloDetector

    detector = YoloDetector.from_config(config.pipeline.detector, config.weights_base())
    embedder = None
    if config.pipeline.reid is not None:
        from vigil.reid import Embedder

        embedder = Embedder.from_config(config.pipeline.reid, config.weights_base())
    return detector, embedder


def plan_jobs(config: LoadedConfig, videos: list[str], camera: str | None) -> list[ReplayJob]:
    """Which file goes to which camera: `CAM=path`, or --camera for all, or the only camera,
    or, with no videos given, each camera's configured file source."""
    site = config.site
    ids = [c.id for c in site.cameras]
    if camera is not None and camera not in ids:
        raise ConfigError(f"camera '{camera}' is not in {config.site_path}; cameras there: {', '.join(ids)}")
    jobs = []
    if not videos:
        chosen = [site.camera(camera)] if camera else site.cameras
        for cam in chosen:
            src = config.source_of(cam)
            if is_stream_url(src):
                raise ConfigError(f"camera '{cam.id}' streams from a URL; replay takes files "
                                  "(pass VIDEO paths) and `vigil run` watches live streams")
            refuse_folder(src, cam.id)  # before the detector loads; a missing file fails that camera alone
            jobs.append(ReplayJob(cam, Path(src)))
        return jobs
    for v in videos:
        cam_id, sep, path = v.partition("=")
        if sep and cam_id in ids:
            cam = site.camera(cam_id)
        elif sep and "/" not in cam_id and "\\" not in cam_id and not resolve_file(v, Path.cwd()).is_file():
            # CAMERA=path with a mistyped camera: name the camera, not a file 'nope=clip.mp4'
            raise ConfigError(f"camera '{cam_id}' is not in {config.site_path}; cameras there: {', '.join(ids)}")
        elif camera or len(ids) == 1:
            cam, path = site.camera(camera or ids[0]), v
        else:
            raise ConfigError(f"which camera is '{v}'? {config.site_path} has several cameras; "
                              "write CAMERA=path or pass --camera ID")
        jobs.append(ReplayJob(cam, video_file(resolve_file(path, Path.cwd()), cam.id)))
    for cam in site.cameras:  # a fixed start would stack every file's events on the same minutes
        files = [j.path.name for j in jobs if j.camera.id == cam.id]
        if len(files) > 1 and cam.start_time is not None:
            raise ConfigError(f"camera '{cam.id}' has start_time {cam.start_time.isoformat()} in "
                              f"{config.site_path}, which would start each of its {len(files)} files "
                              f"({', '.join(files)}) at that time; remove start_time so each file keeps its "
                              "own (its creation_time metadata, else its modification time)")
    return jobs
