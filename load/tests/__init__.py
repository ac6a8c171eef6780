"""Tests of the load: pure functions, and one short live run."""
