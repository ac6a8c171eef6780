"""A foreign payment service as payharness sees it: a TOML profile, a preflight, and the ``Target`` interface.

Usage::

    profile = load_profile(Path("examples/seed_shop/target.toml"))   # ProfileError: one line per mistake
    with TargetRun.start(profile) as run:                            # Postgres, simulators, the service
        preflight(run)                                               # PreflightFailed: one line, the field
"""

from harness.target.profile import Profile, ProfileError, load_profile

__all__ = ["Profile", "ProfileError", "load_profile"]
