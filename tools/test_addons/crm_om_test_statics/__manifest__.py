{
    "name": "Test server: static paths computed at start",
    "summary": "Loaded by the harness as a server-wide module for Odoo's own suites; never installed",
    "version": "18.0.1.0.0",
    "author": "CRM Opportunity Management contributors",
    "license": "LGPL-3",
    "depends": [],
    "installable": False,
    "post_load": "compute_static_paths",
}
