from odoo import fields, models


class CrmStage(models.Model):
    """Workflow rules of a stage: where an opportunity may go next, what it needs to
    enter, the probability level it takes and the activities planned on entry."""

    _inherit = "crm.stage"

    next_stage_ids = fields.Many2many(
        "crm.stage", "crm_stage_next_rel", "stage_id", "next_stage_id",
        string="Allowed Next Stages",
        help="Stages an opportunity may move to from this one. Empty: any stage.",
    )
    required_field_ids = fields.Many2many(
        "ir.model.fields", "crm_stage_required_field_rel", "stage_id", "field_id",
        string="Required to Enter",
        domain="[('model', '=', 'crm.lead'), ('store', '=', True), "
        "('ttype', 'not in', ('one2many', 'binary', 'properties', 'properties_definition'))]",
        help="Fields an opportunity must have filled in to enter this stage.",
    )
    probability_level_id = fields.Many2one(
        "crm.probability.level", string="Default Probability Level", ondelete="set null",
        help="Level (and so probability) an opportunity takes when it enters this stage.",
    )
    activity_plan_id = fields.Many2one(
        "mail.activity.plan", string="Activities on Entry", ondelete="set null",
        domain="[('res_model', '=', 'crm.lead')]",
        help="Activity plan scheduled on an opportunity when it enters this stage "
        "(by the automated action 'Schedule the stage's activities').",
    )
    opportunity_type_ids = fields.Many2many(
        "crm.opportunity.type", "crm_opportunity_type_stage_rel", "stage_id", "type_id",
        string="Workflows", help="Opportunity types whose workflow contains this stage.",
    )

