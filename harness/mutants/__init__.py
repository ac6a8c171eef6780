"""``payharness mutants``: mutation testing of the core's decision code with mutmut (see ``harness/mutants.md``)."""
