"""pytest plugin for the Odoo tests (tools/harness.sh): import Odoo's test framework in test mode.

pytest-odoo imports ``odoo.tests`` (to patch ``TestCase.subTest``) right after it parsed
Odoo's configuration, while ``test_enable`` is off: it turns it on only around the test
modules, since a registry loaded in test mode would start Odoo's own test runner.
``odoo.tests.common`` then logs "Importing test framework, avoid importing from business
modules and when not running in test mode" as an ERROR with a 40-line stack, though
nothing is wrong. Imported first, with ``test_enable`` on for the import only, it logs that
line at INFO, as under ``odoo --test-enable``; nothing else changes (the configuration is
parsed afterwards by pytest-odoo, and ``test_enable`` is back to what it was).

Used as ``python -m pytest -p pytest_odoo_test_mode ...`` with tools/ on PYTHONPATH.
"""

import pytest


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # before pytest-odoo's own wrapper
def pytest_cmdline_main(config):
    from odoo.tools import config as odoo_config

    enabled = odoo_config["test_enable"]
    odoo_config["test_enable"] = True
    try:
        import odoo.tests  # noqa: F401 (imported for its side effect: the test framework, in test mode)
    finally:
        odoo_config["test_enable"] = enabled
    yield
