"""PayU Latam simulator: payments and queries APIs, sandbox rules, signed confirmations.

Usage: ``from simulators.payu import PayUConfig, create_app``
"""

from simulators.payu.app import create_app
from simulators.payu.config import PayUConfig

__all__ = ["PayUConfig", "create_app"]
