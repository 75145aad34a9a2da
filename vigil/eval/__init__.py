"""Evaluation harnesses (MOTChallenge tracking, fusion, registration)."""
