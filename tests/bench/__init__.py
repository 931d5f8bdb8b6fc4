"""Helpers of the benchmark (tests/benchmark.py): registered phones in the lab, Asterisk's CLI
text for N phones, the client-side timings. Not tests."""
