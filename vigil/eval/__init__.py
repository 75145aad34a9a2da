"""Evaluations against ground truth; `vigil eval ...` only parses options, calls them and prints.

mot (+ mot_sequences, mot_trackers, trackeval_adapter): trackers on MOTChallenge, TrackEval scores
fusion_quality: fusion metrics per method, ranked beside VIFB's published methods
registration: automatic visible <-> thermal registration against reference homographies
"""
