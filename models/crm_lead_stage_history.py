from odoo import api, fields, models


class CrmLeadStageHistory(models.Model):
    """The workflow log: one row per stage an opportunity entered.

    Written by crm.lead itself for every path that changes a stage (form, kanban, RPC,
    automated actions, merges, won), so it is complete: the first row of an opportunity
    is the stage it was created in (no ``stage_from_id``); ``duration_days`` is the time
    spent in ``stage_from_id`` before this change. Rows are never edited.
    """

    _name = "crm.lead.stage.history"
    _description = "Opportunity Stage History"
    _order = "date desc, id desc"
    _rec_name = "stage_to_id"

    lead_id = fields.Many2one("crm.lead", string="Opportunity", required=True, index=True, ondelete="cascade")
    # What the opportunity was at the time of the change (for statistics by type, team,
    # salesperson), and its company for the record rules.
    company_id = fields.Many2one("res.company", index=True, ondelete="cascade")
    stage_from_id = fields.Many2one("crm.stage", string="From Stage", index=True, ondelete="set null")
    stage_to_id = fields.Many2one("crm.stage", string="To Stage", index=True, ondelete="set null")
    user_id = fields.Many2one("res.users", string="Changed By", index=True, ondelete="set null")
    date = fields.Datetime(required=True, index=True, default=fields.Datetime.now)
    duration_days = fields.Float(
        string="Days in Previous Stage", digits=(16, 2), aggregator="avg",
        help="Time spent in the previous stage, in days.",
    )
    opportunity_type_id = fields.Many2one("crm.opportunity.type", index=True, ondelete="set null")
    team_id = fields.Many2one("crm.team", string="Sales Team", index=True, ondelete="set null")
    salesperson_id = fields.Many2one("res.users", index=True, ondelete="set null")

    @api.model
    def _prepare_rows(self, changes, when):
        """Values of the rows logging ``changes``: ``[(lead, stage_from, stage_to, entered_from)]``
        where ``entered_from`` is when the lead entered ``stage_from`` (or was created)."""
        return [
            {
                "lead_id": lead.id,
                "company_id": lead.company_id.id,
                "opportunity_type_id": lead.opportunity_type_id.id,
                "team_id": lead.team_id.id,
                "salesperson_id": lead.user_id.id,
                "stage_from_id": stage_from.id,
                "stage_to_id": stage_to.id,
                "user_id": self.env.uid,
                "date": when,
                "duration_days": round((when - entered_from).total_seconds() / 86400.0, 4) if entered_from else 0.0,
            }
            for lead, stage_from, stage_to, entered_from in changes
        ]
