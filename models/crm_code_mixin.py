import math

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
    """Configuration whose look-ups are cached (ormcache): creating or deleting records,
    or writing one of ``_cache_fields`` (those the look-ups read), clears the caches;
    other writes (a cron's ``last_run``, a description) leave every worker's caches alone."""

    _name = "crm.cache.mixin"
    _description = "Configuration Cached in Look-ups"
    _cache_fields = set()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()
        return records

    def write(self, vals):
        result = super().write(vals)
        if self._cache_fields & set(vals):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result


class CrmFiniteMixin(models.AbstractModel):
    """Refuses NaN and infinities in the numbers listed in ``_finite_fields``, with a
    sentence, before the ORM converts them (where they would end as a ``ValueError``)."""

    _name = "crm.finite.mixin"
    _description = "Records whose Numbers are Finite"
    _finite_fields = ()

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_finite_values(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._check_finite_values(vals)
        return super().write(vals)

    @api.model
    def _check_finite_values(self, vals):
        for name in self._finite_fields:
            value = vals.get(name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValidationError(_(
                    "%(field)s must be a finite number, not %(value)s.",
                    field=self._fields[name].get_description(self.env)["string"], value=value,
                ))
