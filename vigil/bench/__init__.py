"""Benchmarks: Vigil's pipeline against the loop users would otherwise write (ultralytics
`model.track(stream=True)` + `solutions.ObjectCounter`), stage timing and memory sampling."""
