from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..engine.levels import levels_for_probabilities


class CrmProbabilityLevel(models.Model):
    """A named band of the probability of success (e.g. "50 % - Proposal").

    The level of an opportunity is the highest level whose percentage is not above
    its probability, so levels partition 0-100 % into buckets; choosing a level on
    an opportunity sets its probability to the level's percentage.
    """

    _name = "crm.probability.level"
    _inherit = ["crm.code.mixin", "crm.lead.count.mixin"]
    _description = "Probability of Success Level"
    _lead_count_field = "probability_level_id"
    _order = "percentage, sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    percentage = fields.Float(
        required=True,
        digits=(5, 2),
        help="Probability of success, in percent, that this level stands for.",
    )
    color = fields.Integer()
    active = fields.Boolean(default=True)
    @api.constrains("percentage")
    def _check_percentage(self):
        for level in self:
            if not 0 <= level.percentage <= 100:
                raise ValidationError(
                    _(
                        "Percentage: the probability level %(level)s must be between "
                        "0 and 100 %% (got %(percentage)s).",
                        level=level.name,
                        percentage=level.percentage,
                    )
                )

    @api.constrains("percentage", "active")
    def _check_percentage_unique(self):
        for level in self.filtered("active"):
            if self.search_count(
                [("id", "!=", level.id), ("percentage", "=", level.percentage)], limit=1
            ):
                raise ValidationError(
                    _(
                        "Percentage: another active probability level already stands for %(percentage)s %%.",
                        percentage=level.percentage,
                    )
                )

    @api.model
    def _find_for_probabilities(self, probabilities):
        """Map each probability to its level: the highest whose percentage <= it."""
        buckets = levels_for_probabilities(probabilities, self._level_table())
        return {probability: self.browse(level_id) for probability, level_id in buckets.items()}

    @api.model
    @tools.ormcache()
    def _level_table(self):
        """``(percentage, id)`` of the active levels: read once per process, as every
        change of an opportunity's probability needs it (cleared when levels change)."""
        levels = self.sudo().search([], order="percentage desc, sequence, id")
        return tuple((level.percentage, level.id) for level in levels)

    @api.model_create_multi
    def create(self, vals_list):
        levels = super().create(vals_list)
        levels._reassign_leads()
        return levels

    def write(self, vals):
        result = super().write(vals)
        if {"percentage", "active", "sequence"} & set(vals):
            self._reassign_leads()
        return result

    def unlink(self):
        result = super().unlink()
        self.env["crm.probability.level"]._reassign_leads()
        return result

    def _reassign_leads(self):
        """Re-bucket every opportunity after the table of levels changed (and forget
        the cached table).

        One UPDATE for the whole table: the rule is the one of
        ``_find_for_probabilities`` (highest active level whose percentage <= probability).
        """
        self.env.registry.clear_cache()
        self.env.flush_all()
        self.env.cr.execute(
            SQL(
                """
                UPDATE crm_lead lead
                   SET probability_level_id = (
                        SELECT level.id
                          FROM crm_probability_level level
                         WHERE level.active
                           AND level.percentage <= COALESCE(lead.probability, 0)
                      ORDER BY level.percentage DESC, level.sequence, level.id
                         LIMIT 1)
                """
            )
        )
        self.env["crm.lead"].invalidate_model(["probability_level_id"])
