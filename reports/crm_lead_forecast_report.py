from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools.misc import format_date, formatLang

# the screen's scope controls: the domain leaves the report names in its heading
SCOPE_FIELDS = ("team_id", "user_id", "opportunity_type_id")


class ReportCrmLeadForecast(models.AbstractModel):
    """The printed sales forecast: what ``crm.lead.get_forecast(domain, options)`` returns
    for the ``domain`` and ``options`` of ``data`` (the forecast screen's), computed when
    printed; nothing is stored. Without a domain, the forecast of ``docids`` (when printed
    from a selection of opportunities) or of every opportunity the user may read.

    Its sentences are those of the screen (``static/src/views/forecast/forecast.js``),
    word for word: one translation serves both."""

    _name = "report.crm_opportunity_management.crm_lead_forecast_report"
    _description = "Sales Forecast Report"

    @api.model
    def _get_report_values(self, docids, data=None):
        data = data or {}
        domain = data.get("domain")
        if domain is None:
            domain = [("id", "in", list(docids))] if docids else []
        options = data.get("options") or {}
        if not isinstance(domain, list) or not isinstance(options, dict):
            raise UserError(_("The forecast report needs a domain (a list) and options (a dict)."))
        result = self.env["crm.lead"].get_forecast(domain, options)
        return {
            "doc_ids": docids,
            "doc_model": "crm.lead",
            "docs": self.env["crm.lead"].browse(docids or []),
            "forecast": result,
            "periods": self._prepare_period_rows(result),
            "scope": self._get_scope_labels(domain),
            "level_names": self._get_level_names(result),
            # the reliability table counts opportunities too (besides observations)
            "level_leads": any("leads" in row for row in result["calibration"]["levels"]),
            "calibration_message": self._get_calibration_message(result),
            "forecasters": list(self._get_forecaster_labels().items()),
            "currency": self.env.company.currency_id,
            **self._prepare_sentences(result),
        }

    # ------------------------------------------------------------------ helpers

    @api.model
    def _prepare_period_rows(self, result):
        """The periods with the split into won / from open / from new / total, also when
        the result predates the split (total = won + open, no "from new")."""
        rows = []
        for row in result["periods"]:
            won = row["won"]
            rows.append({
                **row,
                "open_mean": row.get("open_mean", row["mean"]),
                "open_p10": row.get("open_p10", row["p10"]),
                "open_p90": row.get("open_p90", row["p90"]),
                "new_mean": row.get("new_mean"),
                "total_mean": row.get("total_mean", won + row["mean"]),
                "total_p10": row.get("total_p10", won + row["p10"]),
                "total_p50": row.get("total_p50", won + row["p50"]),
                "total_p90": row.get("total_p90", won + row["p90"]),
            })
        return rows

    @api.model
    def _get_scope_labels(self, domain):
        """``[(label, name)]`` of the scope's plain leaves ``(field, "=", id)``."""
        labels = []
        for leaf in domain:
            if (isinstance(leaf, list | tuple) and len(leaf) == 3 and leaf[0] in SCOPE_FIELDS and leaf[1] == "="
                    and isinstance(leaf[2], int) and leaf[2]):
                field = self.env["crm.lead"]._fields[leaf[0]]
                record = self.env[field.comodel_name].browse(leaf[2]).exists()
                if record:
                    labels.append((field._description_string(self.env), record.display_name))
        return labels

    @api.model
    def _get_level_names(self, result):
        """The names of the probability levels of the reliability table (one read)."""
        ids = [
            row["level"] for row in result["calibration"]["levels"]
            if isinstance(row["level"], int) and not isinstance(row["level"], bool)
        ]
        levels = self.env["crm.probability.level"].with_context(active_test=False).browse(ids).exists()
        return {level.id: level.display_name for level in levels}

    @api.model
    def _get_calibration_message(self, result):
        """Why the forecast uses the stated or the calibrated probabilities ("" when the
        result does not say)."""
        calibration = result["calibration"]
        reason = calibration.get("reason")
        if reason == "too_few_closed":
            return _(
                "Calibration needs at least %(min_closed)s closed opportunities; %(closed)s so far: "
                "the stated probabilities are used.",
                min_closed=calibration.get("min_closed", 0), closed=calibration.get("closed", 0),
            )
        scores = {key: self._format_score(calibration.get(key, 0.0)) for key in ("brier_cv", "brier")}
        if reason == "no_improvement":
            return _(
                "Calibration would not improve the stated probabilities out of sample (cross-validated Brier "
                "%(brier_cv)s vs %(brier)s): they are used as they are.",
                **scores,
            )
        if reason == "improves":
            if result.get("calibrated"):
                return _(
                    "Calibration improves the stated probabilities out of sample (cross-validated Brier "
                    "%(brier_cv)s vs %(brier)s): this forecast uses the calibrated probabilities.",
                    **scores,
                )
            return _(
                "Calibration improves the stated probabilities out of sample (cross-validated Brier "
                "%(brier_cv)s vs %(brier)s): calibrated probabilities are available: tick Calibrated to forecast "
                "with them.",
                **scores,
            )
        return ""

    @api.model
    def _get_forecaster_labels(self):
        """The backtest's forecasters, in the order they are listed, and their labels."""
        return {
            "ours": _("This forecast"),
            "ours_calibrated": _("This forecast, calibrated"),
            "weighted": _("Weighted pipeline (stated probabilities)"),
            "predictive": _("Odoo's predictive probability"),
        }

    @api.model
    def _prepare_sentences(self, result):
        """The report's sentences: ``summary`` (span, pipeline, method, what it learnt
        from), ``beyond`` and ``new_pipeline`` (notes under the periods), ``brier`` and
        ``backtest_summary`` (for a result without horizons); "" where the result has
        nothing to say."""
        granularity = result["granularity"]
        span = {"date_from": self._format_date(result["date_from"]), "date_to": self._format_date(result["date_to"])}
        summary = [
            _("By quarter from %(date_from)s to %(date_to)s.", **span) if granularity == "quarter"
            else _("By month from %(date_from)s to %(date_to)s.", **span),
            _(
                "%(open)s open opportunities as of %(as_of)s (%(overdue)s overdue and %(undated)s without an "
                "expected closing date, counted on the as-of date).",
                open=result["open_count"], as_of=self._format_date(result["as_of"]),
                overdue=result["overdue_count"], undated=result["undated_count"],
            ),
            _("Method: %(method)s.", method=self._method_label(result)),
        ]
        calibration = result["calibration"]
        if result["calibrated"] and calibration.get("used") is not False:
            summary.append(_("With the calibrated probabilities."))
        if result.get("history") == "pipeline":
            summary.append(_("Learnt from the pipeline as it stood on each past day."))
        elif result.get("history"):
            summary.append(_("Learnt from the opportunities' current values: no pipeline history yet."))
        return {
            "summary": " ".join(summary),
            "beyond": self._beyond_note(result),
            "new_pipeline": self._new_pipeline_note(result),
            "brier": self._brier_note(calibration),
            "backtest_summary": self._backtest_summary(result.get("backtest")),
        }

    @api.model
    def _beyond_note(self, result):
        beyond = result.get("beyond")
        if not beyond or not beyond["amount"]:
            return ""
        return _(
            "%(amount)s (%(share)s) of the open pipeline is expected to be won after %(date)s.",
            amount=self._format_amount(beyond["amount"]), share=self._format_percent(beyond["share"]),
            date=self._format_date(result["date_to"]),
        )

    @api.model
    def _new_pipeline_note(self, result):
        learnt = result.get("new_pipeline")
        if not learnt:
            return ""
        return _(
            "New opportunities: %(arrivals)s a month, %(win_rate)s of them won, of %(amount)s on average "
            "(learnt from %(count)s).",
            arrivals=formatLang(self.env, learnt["arrivals_per_month"], digits=1),
            win_rate=self._format_percent(learnt["win_rate"] / 100),
            amount=self._format_amount(learnt["mean_amount"]), count=learnt["count"],
        )

    @api.model
    def _brier_note(self, calibration):
        if "closed" in calibration:
            return _(
                "Brier score of the stated probabilities: %(brier)s (0 is perfect), over %(count)s observations of "
                "%(closed)s closed opportunities, each one at every start of a month it was open.",
                brier=self._format_score(calibration["brier"]), count=calibration["count"],
                closed=calibration["closed"],
            )
        return _(
            "Brier score of the stated probabilities: %(brier)s, of the calibrated ones: %(calibrated)s (0 is "
            "perfect), over %(count)s closed opportunities.",
            brier=self._format_score(calibration["brier"]),
            calibrated=self._format_score(calibration["brier_calibrated"]), count=calibration["count"],
        )

    @api.model
    def _backtest_summary(self, backtest):
        if not backtest:
            return ""
        return _(
            "Over %(count)s past periods, the actual won revenue fell within the P10–P90 band in %(coverage)s of "  # noqa: RUF001
            "them; mean error of P50: %(mae_p50)s, of the weighted pipeline: %(mae_weighted)s.",
            count=backtest["count"], coverage=self._format_percent(backtest["coverage"]),
            mae_p50=self._format_amount(backtest["mae_p50"]),
            mae_weighted=self._format_amount(backtest["mae_weighted"]),
        )

    @api.model
    def _method_label(self, result):
        if result["method"] == "monte_carlo":
            return _(
                "Monte Carlo (%(trials)s trials, seed %(seed)s)",
                trials=formatLang(self.env, result["trials"], digits=0), seed=result["seed"],
            )
        return _("analytic")

    # ------------------------------------------------------------------ formats (as the screen's)

    def _format_date(self, value):
        return format_date(self.env, fields.Date.to_date(value))

    def _format_amount(self, amount):
        """Whole units of the company currency: the forecast's precision is not the cent."""
        return formatLang(self.env, amount, currency_obj=self.env.company.currency_id, rounding_unit="units")

    def _format_percent(self, fraction):
        return f"{formatLang(self.env, 100 * fraction, digits=0)}%"

    def _format_score(self, value):
        return formatLang(self.env, value, digits=4)
