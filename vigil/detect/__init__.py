"""The object detector (ultralytics YOLO): device and precision choice, batching, class map."""
