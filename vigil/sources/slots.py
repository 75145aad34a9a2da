"""Hand-over of decoded frames from a reader thread to the analysis loop.

- live (`LatestFrameSlot`): only the newest frame is kept; an untaken frame is replaced and
  counted as dropped, so a slow consumer never builds up lag.
- replay (`FrameQueue`): every frame is kept; the reader waits for the consumer.
"""

from __future__ import annotations

import threading
from collections import deque

from vigil.types import Frame


class LatestFrameSlot:
    """Holds at most one frame: put() replaces an untaken frame (dropped += 1)."""

    keeps_all = False

    def __init__(self, ready: threading.Event | None = None):
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self.ready = ready or threading.Event()  # shared by all cameras: "some frame is waiting"
        self.dropped = 0

    def put(self, frame: Frame, stop: threading.Event) -> None:
        with self._lock:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
        self.ready.set()

    def take(self) -> Frame | None:
        with self._lock:
            frame, self._frame = self._frame, None
            return frame

    def __len__(self) -> int:
        return int(self._frame is not None)


class FrameQueue:
    """Keeps every frame (replay): put() waits while `maxsize` frames are pending."""

    keeps_all = True

    def __init__(self, ready: threading.Event | None = None, maxsize: int = 8):
        self._cond = threading.Condition()
        self._frames: deque[Frame] = deque()
        self.maxsize = maxsize
        self.ready = ready or threading.Event()
        self.dropped = 0

    def put(self, frame: Frame, stop: threading.Event) -> None:
        with self._cond:
            while len(self._frames) >= self.maxsize and not stop.is_set():
                self._cond.wait(0.1)
            self._frames.append(frame)
        self.ready.set()

    def take(self) -> Frame | None:
        with self._cond:
            frame = self._frames.popleft() if self._frames else None
            self._cond.notify()
            return frame

    def __len__(self) -> int:
        return len(self._frames)
