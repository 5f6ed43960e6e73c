from odoo import http


def compute_static_paths():
    """Compute the server's static paths at start, in one thread, for Odoo's own suites: why
    is told where the module's own tours do the same (``tests/common.py``, ``BrowserCase``)."""
    return http.root.statics
