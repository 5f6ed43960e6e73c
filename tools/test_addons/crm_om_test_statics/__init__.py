from odoo import http


def compute_static_paths():
    """Compute the server's static paths at start, in one thread.

    Odoo computes them lazily, at the first static request, by parsing every manifest; a
    browser's first page sends several such requests at once, and on Python 3.11 parsing in
    two threads at once can fail with "SystemError: AST constructor recursion depth mismatch"
    (CPython gh-106905): a tour then fails on an HTML error page where its script expected
    JSON. The module's own tours do the same in ``tests/common.py`` (``BrowserCase``)."""
    return http.root.statics
