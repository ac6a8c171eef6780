"""The ``payharness.simulators`` pytest11 entry point: loads the simulators' fixtures only when a run asks.

pytest loads every installed pytest11 entry point into every run. This one stays inert unless the run
names it with ``-p payharness.simulators`` (command line or ``addopts``); then it registers
``simulators.pytest_plugin``. ``-p simulators.pytest_plugin`` loads the fixtures directly and works
with ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` too.
"""

import pytest

ENTRY_POINT = "payharness.simulators"
PLUGIN = "simulators.pytest_plugin"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    asked = ENTRY_POINT in (config.option.plugins or [])
    if asked and not config.pluginmanager.has_plugin(PLUGIN):
        config.pluginmanager.import_plugin(PLUGIN)
