from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class CrmCodeMixin(models.AbstractModel):
    """A configuration record identified by a unique code (archived ones included)."""

    _name = "crm.code.mixin"
    _description = "Configuration Record with a Unique Code"

    code = fields.Char(required=True, index=True)

    @api.constrains("code")
    def _check_code_unique(self):
        for record in self:
            duplicate = self.with_context(active_test=False).search_count(
                [("id", "!=", record.id), ("code", "=", record.code)], limit=1
            )
            if duplicate:
                raise ValidationError(
                    _(
                        "Code: %(code)s is already used by another %(model)s.",
                        code=record.code,
                        model=self._description,
                    )
                )


class CrmLeadCountMixin(models.AbstractModel):
    """Counts the opportunities that point to a configuration record."""

    _name = "crm.lead.count.mixin"
    _description = "Configuration Record Counting its Opportunities"
    _lead_count_field = None  # name of the crm.lead Many2one pointing to this model

    lead_count = fields.Integer(compute="_compute_lead_count", string="Opportunities")

    def _compute_lead_count(self):
        counts = dict(
            self.env["crm.lead"]._read_group(
                [(self._lead_count_field, "in", self.ids), ("type", "=", "opportunity")],
                [self._lead_count_field],
                ["__count"],
            )
        )
        for record in self:
            record.lead_count = counts.get(record, 0)


class CrmCacheMixin(models.AbstractModel):
    """Configuration whose look-ups are cached (ormcache): any change clears the caches."""

    _name = "crm.cache.mixin"
    _description = "Configuration Cached in Look-ups"

    @api.model_create_multi
    def create(self, vals_list):
        self.env.registry.clear_cache()
        return super().create(vals_list)

    def write(self, vals):
        self.env.registry.clear_cache()
        return super().write(vals)

    def unlink(self):
        self.env.registry.clear_cache()
        return super().unlink()
