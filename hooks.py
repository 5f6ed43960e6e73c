from odoo.tools import SQL

from .models.crm_lead_board import BOARD_CARD_INDEXES
from .models.res_partner import COORDINATES_INDEX


def post_init_hook(env):
    """Bring opportunities that existed before the install in line with the module:
    a number each, their company's currency, their probability level and amounts."""
    # Those without a number existed before: the module's data (its demo company among
    # them, loaded before this hook) made the others through the module's own write path.
    leads = env["crm.lead"].with_context(active_test=False).search([("number", "=", False)], order="id")
    _number_existing_leads(leads)
    env.flush_all()
    env.cr.execute(SQL(
        "UPDATE crm_lead lead SET currency_id = company.currency_id "
        "FROM res_company company WHERE lead.company_id = company.id AND lead.id = ANY(%s)",
        leads.ids,
    ))
    leads.invalidate_recordset(["currency_id"])
    env["crm.probability.level"]._reassign_leads()
    # Amounts are stored computes: recompute them for the existing rows.
    env.add_to_compute(leads._fields["amount_net"], leads)
    leads.flush_recordset()
    env["crm.lead.history"]._seed()


def _number_existing_leads(leads):
    for lead in leads:
        lead.number = lead._next_number()


def uninstall_hook(env):
    """Remove the generated demo company (its records have no xml id), and take the
    ``opportunity_map`` view type out of every window action (its view mode
    list and its ``ir.actions.act_window.view`` rows): the web client refuses to open an
    action naming a view type it does not know, and Odoo's own actions (the CRM
    pipeline) carry it too."""
    env["crm.lead"]._remove_demo_company()
    env["ir.actions.act_window.view"].search([("view_mode", "=", "opportunity_map")]).unlink()
    env["ir.actions.act_window"]._remove_opportunity_map_view_mode()
    # indexes the module created on tables that stay (Odoo drops only its fields' columns)
    for index in (*BOARD_CARD_INDEXES.values(), COORDINATES_INDEX):
        env.cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(index)))
