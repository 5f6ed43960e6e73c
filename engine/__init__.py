"""Pure-Python numbers of crm_opportunity_management: no Odoo import here.

Each module takes and returns plain Python (or pandas / numpy) structures, so it can be
unit-tested without Odoo (tests/engine) and reused by the models.
"""
