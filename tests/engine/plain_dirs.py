"""pytest plugin for the engine tests: collect the add-on's folders as plain folders.

The repository root is an Odoo add-on (a Python package importing odoo); pytest would
import it to set the package up, which fails without Odoo. The engine needs none of it.
Used as ``python -m pytest -p plain_dirs tests/engine`` with tests/engine on PYTHONPATH.
"""

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path, parent):
    if (path / "__init__.py").is_file():
        return pytest.Dir.from_parent(parent, path=path)
    return None
