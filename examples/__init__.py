"""Example applications that use payharness's simulators from the outside, as a merchant's project would."""
