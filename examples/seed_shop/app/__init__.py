"""The shop's application package, laid out as the seed's (config, database, models, services, api)."""

from examples.seed_shop.app.config import ConfigurationError, Settings
from examples.seed_shop.app.main import create_app

__all__ = ["ConfigurationError", "Settings", "create_app"]
