"""StageClock keeps Counter semantics for seconds (now a float mapping, for the type checker)."""

import threading

from vigil.timing import StageClock


def test_seconds_read_zero_for_an_untimed_stage_without_adding_it():
    clock = StageClock()
    assert clock.seconds["detect"] == 0 and clock.frames["detect"] == 0
    assert "detect" not in clock.seconds and clock.snapshot() == {}
    assert clock.ms_per_frame("detect") == 0.0


def test_seconds_sum_over_threads_and_reset():
    clock = StageClock()
    threads = [threading.Thread(target=lambda: [clock.add("track", 0.25, frames=1) for _ in range(100)])
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.seconds["track"] == 100.0 and clock.frames["track"] == 400 and clock.calls["track"] == 400
    assert clock.ms_per_frame("track") == 250.0
    clock.reset()
    assert clock.snapshot() == {} and clock.seconds["track"] == 0
