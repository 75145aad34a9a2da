"""`vigil replay --annotate DIR`: a frame observer that writes each analysed frame, with the
overlay and live counts, to an MP4 (one per replayed file)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vigil.classes import DEFAULT_VOCAB, ClassVocab
from vigil.config.scale import to_pixels
from vigil.config.site import CameraConfig
from vigil.render.overlay import Overlay, Tally
from vigil.render.video import VideoWriter
from vigil.sources.file import FileSource
from vigil.types import CountEvent, Detections, Frame


def annotated_path(folder: Path, camera_id: str, video: Path) -> Path:
    """DIR/<camera>-<file stem>.mp4: one file per replayed video, distinct across cameras."""
    return Path(folder) / f"{camera_id}-{Path(video).stem}.mp4"


class AnnotatedVideo:
    """A FrameObserver: the overlay of every analysed frame into `path` at `fps` (the analysed
    rate, i.e. the file's rate / frame_stride, so the video plays in real time)."""

    def __init__(self, camera: CameraConfig, path: Path, fps: float, vocab: ClassVocab = DEFAULT_VOCAB) -> None:
        self.camera = camera
        self.vocab = vocab
        self.overlay: Overlay | None = None  # made on the first frame, when its size is known
        self.tally = Tally()
        self.writer = VideoWriter(path, fps)
        self.path = path

    def __call__(self, frame: Frame, tracks: Detections, events: list[CountEvent]) -> None:
        if self.overlay is None:  # relative or reference_size coordinates: draw them in this frame's pixels
            h, w = frame.shape
            self.overlay = Overlay(to_pixels(self.camera, w, h), vocab=self.vocab)
        self.tally.add(events)  # counted on this frame: shown on this frame
        self.writer.write(self.overlay.draw(frame.image, tracks, self.tally))

    @property
    def frames(self) -> int:
        return self.writer.frames

    def close(self) -> None:
        self.writer.close()


def annotators(folder: Path, stride: int,
               vocab: ClassVocab = DEFAULT_VOCAB) -> Callable[[CameraConfig, Path], list[AnnotatedVideo]]:
    """The observers for `Replay(observers=...)`: one AnnotatedVideo per replayed file, at the
    file's frame rate divided by the frame stride."""
    def make(camera: CameraConfig, video: Path) -> list[AnnotatedVideo]:
        src = FileSource(video)
        fps = src.fps
        src.container.close()
        return [AnnotatedVideo(camera, annotated_path(folder, camera.id, video), fps / max(1, stride), vocab)]
    return make
