"""Efecty simulator: a cash network with vouchers, a cashier terminal and an Asobancaria feed."""

from simulators.efecty.app import create_app
from simulators.efecty.config import EfectyConfig

__all__ = ["EfectyConfig", "create_app"]
