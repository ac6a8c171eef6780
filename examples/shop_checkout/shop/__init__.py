"""The shop: an order store, gateway clients written against the public APIs, and the web app."""

from examples.shop_checkout.shop.app import create_app
from examples.shop_checkout.shop.settings import PayUAccount, ShopSettings, WompiAccount

__all__ = ["PayUAccount", "ShopSettings", "WompiAccount", "create_app"]
