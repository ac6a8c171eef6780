"""A small shop that takes card payments through Wompi and PayU, with tests that run against the simulators."""
