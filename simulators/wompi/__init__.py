"""Wompi (Colombia) sandbox simulator: acceptance tokens, tokens, transactions, signed events."""

from simulators.wompi.app import create_app
from simulators.wompi.config import WompiConfig

__all__ = ["WompiConfig", "create_app"]
