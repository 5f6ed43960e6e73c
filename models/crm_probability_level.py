from odoo import _, api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL


class CrmProbabilityLevel(models.Model):
    """A named band of the probability of success (e.g. "50 % - Proposal").

    The level of an opportunity is the highest level whose percentage is not above
    its probability, so levels partition 0-100 % into buckets; choosing a level on
    an opportunity sets its probability to the level's percentage.
    """

    _name = "crm.probability.level"
    _inherit = ["crm.code.mixin", "crm.lead.count.mixin", "crm.cache.mixin", "crm.finite.mixin"]
    _finite_fields = ("percentage",)
    _cache_fields = {"percentage", "active", "sequence"}  # those of _level_table
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

    # The level of a probability, defined once: the first level of ``_level_table`` (highest
    # percentage first) whose percentage is not above the probability. Python and SQL both
    # read that table and that rule.

    @api.model
    def _find_for_probabilities(self, probabilities):
        """``{probability: level}`` for each distinct probability (no level: empty)."""
        table = self._level_table()
        return {
            probability: self.browse(
                next((level_id for percentage, level_id in table if percentage <= (probability or 0.0)), ())
            )
            for probability in set(probabilities)
        }

    @api.model
    def _level_sql(self, probability):
        """The level id of the SQL expression ``probability``, as ``_find_for_probabilities``."""
        table = self._level_table()
        if not table:
            return SQL("NULL::int")
        return SQL("(CASE %s END)", SQL(" ").join(
            SQL("WHEN COALESCE(%s, 0) >= %s THEN %s", probability, percentage, level_id)
            for percentage, level_id in table
        ))

    @api.model
    @tools.ormcache()
    def _level_table(self):
        """``(percentage, id)`` of the active levels, highest percentage first: read once per
        process, as every change of an opportunity's probability needs it (cleared when
        levels change, see ``_cache_fields``)."""
        levels = self.sudo().search([], order="percentage desc, sequence, id")
        return tuple((level.percentage, level.id) for level in levels)

    @api.model_create_multi
    def create(self, vals_list):
        levels = super().create(vals_list)
        levels._reassign_leads()
        return levels

    def write(self, vals):
        result = super().write(vals)
        if self._cache_fields & set(vals):
            self._reassign_leads()
        return result

    def unlink(self):
        result = super().unlink()
        self.env["crm.probability.level"]._reassign_leads()
        return result

    @api.model
    def _reassign_leads(self, record=True):
        """Re-file the opportunities whose level is no longer that of their probability
        (the table changed, or a probability was written in SQL: Odoo's predictive
        scoring cron): one UPDATE, rows already right untouched."""
        self.env["crm.lead"].flush_model(["probability", "probability_level_id"])
        level = self._level_sql(SQL.identifier("crm_lead", "probability"))
        self.env.cr.execute(SQL(
            "UPDATE crm_lead SET probability_level_id = %s WHERE probability_level_id IS DISTINCT FROM %s",
            level, level,
        ))
        self.env["crm.lead"].invalidate_model(["probability_level_id"])
        if record:  # the opportunities' history
            self.env["crm.lead.history"]._record(changed_by=self.env.uid)
