from odoo.tools import SQL


def post_init_hook(env):
    """Bring opportunities that existed before the install in line with the module:
    a number each, their probability level, currency, amounts and last interaction."""
    leads = env["crm.lead"].with_context(active_test=False).search([], order="id")
    _number_existing_leads(env, leads)
    env["crm.probability.level"]._reassign_leads()
    _set_last_interaction(env)
    # Currency and amounts are stored computes: recompute them for the existing rows.
    for field_name in ("currency_id", "amount_net_company"):
        env.add_to_compute(leads._fields[field_name], leads)
    leads.flush_recordset()


def _number_existing_leads(env, leads):
    unnumbered = leads.filtered(lambda lead: not lead.number)
    for lead in unnumbered:
        lead.number = lead._next_number()


def _set_last_interaction(env):
    env.flush_all()
    env.cr.execute(
        SQL(
            """
            UPDATE crm_lead lead
               SET date_last_interaction = COALESCE(last.date, lead.create_date)
              FROM crm_lead lead2
         LEFT JOIN LATERAL (
                    SELECT MAX(message.date) AS date
                      FROM mail_message message
                     WHERE message.model = 'crm.lead'
                       AND message.res_id = lead2.id
                       AND (message.message_type IN ('comment', 'email')
                            OR message.mail_activity_type_id IS NOT NULL)
                   ) last ON TRUE
             WHERE lead.id = lead2.id
            """
        )
    )
    env["crm.lead"].invalidate_model(["date_last_interaction"])
