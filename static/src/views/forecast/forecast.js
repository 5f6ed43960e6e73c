/** @odoo-module **/

import { Component, onWillStart, onWillUnmount, useEffect, useRef, useState, useSubEnv } from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { CheckBox } from "@web/core/checkbox/checkbox";
import { DateTimeInput } from "@web/core/datetime/datetime_input";
import { _t } from "@web/core/l10n/translation";
import { RecordSelector } from "@web/core/record_selectors/record_selector";
import { registry } from "@web/core/registry";
import { KeepLast } from "@web/core/utils/concurrency";
import { useService } from "@web/core/utils/hooks";
import { useDebounced } from "@web/core/utils/timing";
import { Layout } from "@web/search/layout";
import { formatFloat, formatMonetary, formatPercentage } from "@web/views/fields/formatters";
import { getDefaultConfig } from "@web/views/view";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import {
    amountScales,
    CHART_COLORS,
    CHART_TEXT_COLOR,
    controlDate,
    formatServerDate,
    serializeControlDate,
    usePipelineControls,
} from "@crm_opportunity_management/views/pipeline_flow/pipeline_common";

/** Key of the screen's controls in its local state (breadcrumbs) and an action's context. */
export const FORECAST_CONTEXT_KEY = "forecast_options";

/** The controls: ``false`` for "all" (scope) or the server's default (dates). */
const FORECAST_DEFAULTS = {
    team_id: false,
    user_id: false,
    opportunity_type_id: false,
    date_from: false,
    date_to: false,
    granularity: "month",
    method: "auto",
    calibrated: false,
    backtest: 0,
};

/** The scope controls: each adds ``(field, "=", id)`` to the domain. */
const SCOPE_FIELDS = ["team_id", "user_id", "opportunity_type_id"];

export const MAX_BACKTEST = 60;
const LOAD_DELAY = 300; // ms: typing a number of periods asks once

export const FORECAST_COLORS = {
    won: CHART_COLORS.commit,
    open: CHART_COLORS.pipeline,
    new: "#9B6FD3",
    band: CHART_COLORS.total,
    median: CHART_TEXT_COLOR,
    weighted: CHART_COLORS.weighted,
};

/**
 * The domain of the opportunities expected in a period: open ones expected to close in
 * it (the overdue and undated ones too in the period of ``asOf``, where the forecast
 * counts them) and the ones won in it.
 */
export function periodDomain(scope, period, asOf) {
    const { date_from: from, date_to: to } = period;
    const expected =
        from <= asOf && asOf <= to
            ? ["|", ["date_deadline", "=", false], ["date_deadline", "<=", to]]
            : ["&", ["date_deadline", ">=", from], ["date_deadline", "<=", to]];
    return [
        ["type", "=", "opportunity"],
        ...scope,
        "|",
        "&",
        ["closing_state", "=", "open"],
        ...expected,
        "&",
        ["closing_state", "=", "won"],
        "&",
        ["date_closed", ">=", `${from} 00:00:00`],
        ["date_closed", "<=", `${to} 23:59:59`],
    ];
}

/**
 * Client action ``crm_opportunity_management.forecast``: the sales forecast of a scope
 * (team, salesperson, type) over a span, as ``crm.lead.get_forecast(domain, options)``
 * returns it — a chart and a table of the periods (won, from the open pipeline, from
 * opportunities not yet created, the total's P10–P90), the calibration of the stated
 * probabilities and the backtest of the forecast beside simple forecasters.
 *
 * It only reads: one ``get_forecast`` call per change of the controls (``@api.readonly``,
 * so a read replica may serve it), nothing stored. *Print* renders the PDF report of the
 * forecast shown, and a period (bar or row) opens its opportunities.
 */
export class SalesForecast extends Component {
    static template = "crm_opportunity_management.SalesForecast";
    static components = { Layout, CheckBox, DateTimeInput, RecordSelector };
    static props = { ...standardActionServiceProps };

    setup() {
        useSubEnv({ config: { ...getDefaultConfig(), ...this.env.config } });
        this.orm = useService("orm");
        this.action = useService("action");
        this.keepLast = new KeepLast();
        this.rootRef = useRef("root");
        this.canvasRef = useRef("canvas");
        const { controls } = usePipelineControls({
            props: { state: this.props.state, context: this.props.action.context || {} },
            contextKey: FORECAST_CONTEXT_KEY,
            defaults: FORECAST_DEFAULTS,
            rootRef: this.rootRef,
        });
        this.controls = controls;
        // ``shown``: the result on screen with the domain and options it was computed for
        this.state = useState({ shown: null, loading: false });
        this.levelNames = new Map();
        this.currencyIds = new Map();
        this.scheduleLoad = useDebounced(this.load, LOAD_DELAY);
        onWillStart(() => Promise.all([loadBundle("web.chartjs_lib"), this.load()]));
        useEffect(
            () => this.renderChart(),
            () => [this.state.shown]
        );
        onWillUnmount(() => this.chart?.destroy());
    }

    // ---------------------------------------------------------------- request

    get domain() {
        return SCOPE_FIELDS.filter((field) => this.controls[field]).map((field) => [field, "=", this.controls[field]]);
    }

    get options() {
        const { date_from, date_to, granularity, method, calibrated, backtest } = this.controls;
        return {
            ...(date_from && { date_from }),
            ...(date_to && { date_to }),
            granularity,
            method,
            calibrated,
            backtest,
        };
    }

    async load() {
        const domain = this.domain;
        const options = this.options;
        this.state.loading = true;
        try {
            // only the last request's result is shown (and ends the loading)
            this.state.shown = await this.keepLast.add(this.fetch(domain, options));
        } finally {
            this.state.loading = false;
        }
    }

    /** The forecast, and the names of its levels and its currency's id (each read once). */
    async fetch(domain, options) {
        const forecast = await this.orm.call("crm.lead", "get_forecast", [domain, options]);
        const [currencyId] = await Promise.all([this.currencyId(forecast), this.loadLevelNames(forecast)]);
        return { forecast, domain, options, currencyId };
    }

    async currencyId(forecast) {
        if (forecast.currency_id) {
            return forecast.currency_id;
        }
        const code = forecast.currency;
        if (code && !this.currencyIds.has(code)) {
            const [currency] = await this.orm.searchRead("res.currency", [["name", "=", code]], ["id"], {
                limit: 1,
                context: { active_test: false },
            });
            this.currencyIds.set(code, currency?.id || false);
        }
        return this.currencyIds.get(code) || false;
    }

    async loadLevelNames(forecast) {
        const ids = forecast.calibration.levels
            .map((row) => row.level)
            .filter((level) => Number.isInteger(level) && !this.levelNames.has(level));
        if (!ids.length) {
            return;
        }
        const levels = await this.orm.searchRead("crm.probability.level", [["id", "in", ids]], ["display_name"], {
            context: { active_test: false },
        });
        for (const level of levels) {
            this.levelNames.set(level.id, level.display_name);
        }
    }

    // ---------------------------------------------------------------- controls

    get granularities() {
        return [
            { value: "month", label: _t("Month") },
            { value: "quarter", label: _t("Quarter") },
        ];
    }

    get methods() {
        return [
            { value: "auto", label: _t("Automatic") },
            { value: "analytic", label: _t("Analytic") },
            { value: "monte_carlo", label: _t("Monte Carlo") },
        ];
    }

    get scopeControls() {
        return [
            { field: "team_id", resModel: "crm.team", label: _t("Sales Team"), placeholder: _t("All teams") },
            { field: "user_id", resModel: "res.users", label: _t("Salesperson"), placeholder: _t("All salespeople") },
            {
                field: "opportunity_type_id",
                resModel: "crm.opportunity.type",
                label: _t("Type"),
                placeholder: _t("All types"),
            },
        ];
    }

    setControl(key, value) {
        if (this.controls[key] === value) {
            return;
        }
        this.controls[key] = value;
        this.scheduleLoad();
    }

    onScope(field, resId) {
        this.setControl(field, resId || false);
    }

    /** A date control's value: the chosen one, else the one the forecast shown was computed with. */
    dateValue(key) {
        return controlDate(this.controls[key] || this.state.shown?.forecast[key]);
    }

    onDate(key, value) {
        const serialized = serializeControlDate(value);
        if ((this.controls[key] || false) === serialized) {
            return;
        }
        this.controls[key] = serialized;
        const other = key === "date_from" ? "date_to" : "date_from";
        const otherValue = this.controls[other];
        if (serialized && otherValue && (key === "date_from" ? serialized > otherValue : serialized < otherValue)) {
            // keep the span valid: the other bound follows the one just chosen
            this.controls[other] = serialized;
        }
        this.scheduleLoad();
    }

    onBacktest(ev) {
        const value = Math.round(Number(ev.target.value));
        const periods = Number.isFinite(value) ? Math.min(MAX_BACKTEST, Math.max(0, value)) : 0;
        if (String(periods) !== ev.target.value) {
            ev.target.value = periods;
        }
        this.setControl("backtest", periods);
    }

    // ---------------------------------------------------------------- data

    get forecast() {
        return this.state.shown?.forecast;
    }

    get periods() {
        return this.forecast?.periods || [];
    }

    /** The result's totals, and the open opportunities of the periods shown. */
    get totals() {
        return { ...this.forecast.totals, count: this.periods.reduce((total, row) => total + row.count, 0) };
    }

    get methodLabel() {
        const forecast = this.forecast;
        if (forecast.method === "monte_carlo") {
            return _t("Monte Carlo (%(trials)s trials, seed %(seed)s)", {
                trials: formatFloat(forecast.trials, { digits: [69, 0] }),
                seed: forecast.seed,
            });
        }
        return _t("analytic");
    }

    /** The forecast's ground: the open pipeline, the method, what it learnt from. */
    get summary() {
        const forecast = this.forecast;
        const sentences = [
            _t(
                "%(open)s open opportunities as of %(as_of)s (%(overdue)s overdue and %(undated)s without an expected closing date, counted on the as-of date).",
                {
                    open: forecast.open_count,
                    as_of: this.formatDate(forecast.as_of),
                    overdue: forecast.overdue_count,
                    undated: forecast.undated_count,
                }
            ),
            _t("Method: %(method)s.", { method: this.methodLabel }),
        ];
        if (forecast.calibrated && this.calibration.used !== false) {
            sentences.push(_t("With the calibrated probabilities."));
        }
        if (forecast.history === "pipeline") {
            sentences.push(_t("Learnt from the pipeline as it stood on each past day."));
        } else if (forecast.history) {
            sentences.push(_t("Learnt from the opportunities' current values: no pipeline history yet."));
        }
        return sentences.join(" ");
    }

    /** What the open pipeline is expected to win after the last period ("" for nothing). */
    get beyondNote() {
        const beyond = this.forecast.beyond;
        if (!beyond?.amount) {
            return "";
        }
        return _t("%(amount)s (%(share)s) of the open pipeline is expected to be won after %(date)s.", {
            amount: this.formatAmount(beyond.amount),
            share: this.formatPercent(beyond.share),
            date: this.formatDate(this.forecast.date_to),
        });
    }

    /** What the forecast of the opportunities not yet created learnt ("" without it). */
    get newPipelineNote() {
        const learnt = this.forecast.new_pipeline;
        if (!learnt) {
            return "";
        }
        return _t(
            "New opportunities: %(arrivals)s a month, %(win_rate)s of them won, of %(amount)s on average (learnt from %(count)s).",
            {
                arrivals: this.formatNumber(learnt.arrivals_per_month),
                win_rate: this.formatPercent(learnt.win_rate / 100),
                amount: this.formatAmount(learnt.mean_amount),
                count: learnt.count,
            }
        );
    }

    /** An amount in the company currency, whole (the forecast's precision is not the cent). */
    formatAmount(amount) {
        if (amount === null || amount === undefined) {
            return "–";
        }
        return formatMonetary(amount, { currencyId: this.state.shown?.currencyId, digits: [69, 0] });
    }

    formatDate(value) {
        return formatServerDate(value);
    }

    formatPercent(fraction, digits = 0) {
        return formatPercentage(fraction, { digits: [69, digits], trailingZeros: true });
    }

    formatNumber(value, digits = 1) {
        return formatFloat(value, { digits: [69, digits] });
    }

    formatScore(value) {
        return formatFloat(value, { digits: [69, 4] });
    }

    levelName(level) {
        if (level === false || level === null) {
            return _t("No level");
        }
        return this.levelNames.get(level) || `${formatFloat(level, { digits: [69, 2] })} %`;
    }

    // ---------------------------------------------------------------- calibration

    get calibration() {
        return this.forecast.calibration;
    }

    /** The Brier scores and what they are computed on. */
    get brierNote() {
        const calibration = this.calibration;
        return _t(
            "Brier score of the stated probabilities: %(brier)s (0 is perfect), over %(count)s observations of %(closed)s closed opportunities, each one at every start of a month it was open.",
            { brier: this.formatScore(calibration.brier), count: calibration.count, closed: calibration.closed }
        );
    }

    /** Why the stated or the calibrated probabilities are used ("" when the result does not say). */
    get calibrationMessage() {
        const calibration = this.calibration;
        const scores = { brier_cv: this.formatScore(calibration.brier_cv || 0), brier: this.formatScore(calibration.brier) };
        switch (calibration.reason) {
            case "too_few_closed":
                return _t(
                    "Calibration needs at least %(min_closed)s closed opportunities; %(closed)s so far: the stated probabilities are used.",
                    { min_closed: calibration.min_closed, closed: calibration.closed }
                );
            case "no_improvement":
                return _t(
                    "Calibration would not improve the stated probabilities out of sample (cross-validated Brier %(brier_cv)s vs %(brier)s): they are used as they are.",
                    scores
                );
            case "improves":
                return this.forecast.calibrated
                    ? _t(
                          "Calibration improves the stated probabilities out of sample (cross-validated Brier %(brier_cv)s vs %(brier)s): this forecast uses the calibrated probabilities.",
                          scores
                      )
                    : _t(
                          "Calibration improves the stated probabilities out of sample (cross-validated Brier %(brier_cv)s vs %(brier)s): calibrated probabilities are available: tick Calibrated to forecast with them.",
                          scores
                      );
        }
        return "";
    }

    // ---------------------------------------------------------------- backtest

    get backtest() {
        return this.forecast?.backtest;
    }

    get forecasters() {
        return [
            { key: "ours", label: _t("This forecast"), band: true },
            { key: "ours_calibrated", label: _t("This forecast, calibrated"), band: true },
            { key: "weighted", label: _t("Weighted pipeline (stated probabilities)"), band: false },
            { key: "predictive", label: _t("Odoo's predictive probability"), band: false },
        ];
    }

    horizonRows(horizon) {
        return this.forecasters
            .filter((forecaster) => horizon.scores[forecaster.key])
            .map((forecaster) => ({
                ...forecaster,
                score: horizon.scores[forecaster.key],
                best: horizon.best === forecaster.key,
            }));
    }

    horizonTitle(horizon) {
        return horizon.horizon === 1
            ? _t("1 period ahead: %(count)s past periods scored", { count: horizon.count })
            : _t("%(horizon)s periods ahead: %(count)s past periods scored", {
                  horizon: horizon.horizon,
                  count: horizon.count,
              });
    }

    /** The backtest in a sentence (a result without horizons). */
    get backtestSummary() {
        const backtest = this.backtest;
        return _t(
            "Over %(count)s past periods, the actual won revenue fell within the P10–P90 band in %(coverage)s of them; mean error of P50: %(mae_p50)s, of the weighted pipeline: %(mae_weighted)s.",
            {
                count: backtest.count,
                coverage: this.formatPercent(backtest.coverage),
                mae_p50: this.formatAmount(backtest.mae_p50),
                mae_weighted: this.formatAmount(backtest.mae_weighted),
            }
        );
    }

    /** The backtest's points one period ahead (all of them without horizons). */
    get backtestPoints() {
        const backtest = this.backtest;
        const first = backtest.horizons?.find((horizon) => horizon.horizon === 1);
        return first ? first.points : backtest.points || [];
    }

    // ---------------------------------------------------------------- chart

    renderChart() {
        this.chart?.destroy();
        this.chart = null;
        const periods = this.periods;
        if (!periods.length || !this.canvasRef.el) {
            return;
        }
        const currencyId = this.state.shown.currencyId;
        const line = (key, label, values, color, extra = {}) => ({
            type: "line",
            label,
            tooltipLabel: label,
            data: values,
            stack: key, // alone in its stack: lines are not summed
            borderColor: color,
            backgroundColor: color,
            borderWidth: 2,
            pointRadius: 2,
            tension: 0.2,
            order: 0,
            ...extra,
        });
        const bar = (label, values, color) => ({
            type: "bar",
            label,
            data: values,
            stack: "amounts",
            backgroundColor: color,
            maxBarThickness: 56,
            order: 1,
        });
        const datasets = [
            // the band first, drawn behind the bars (a higher order is drawn earlier)
            line("p10", _t("Total P10"), periods.map((row) => row.total_p10), FORECAST_COLORS.band, {
                borderWidth: 1,
                borderDash: [4, 3],
                pointRadius: 0,
                order: 2,
                hideInLegend: true,
            }),
            line("p90", _t("Total P10–P90"), periods.map((row) => row.total_p90), FORECAST_COLORS.band, {
                tooltipLabel: _t("Total P90"),
                borderWidth: 1,
                borderDash: [4, 3],
                pointRadius: 0,
                order: 2,
                fill: { target: "-1", above: `${FORECAST_COLORS.band}33`, below: `${FORECAST_COLORS.band}33` },
            }),
            bar(_t("Won"), periods.map((row) => row.won), FORECAST_COLORS.won),
            bar(_t("From open (mean)"), periods.map((row) => row.open_mean), FORECAST_COLORS.open),
        ];
        datasets.push(
            bar(_t("From new (mean)"), periods.map((row) => row.new_mean), FORECAST_COLORS.new),
            line("p50", _t("Total P50"), periods.map((row) => row.total_p50), FORECAST_COLORS.median),
            line("weighted", _t("Weighted pipeline"), periods.map((row) => row.weighted), FORECAST_COLORS.weighted, {
                borderDash: [6, 4],
            })
        );
        const scales = amountScales(currencyId);
        scales.x.stacked = true;
        scales.y.stacked = true;
        this.chart = new Chart(this.canvasRef.el, {
            type: "bar",
            data: { labels: periods.map((row) => row.period), datasets },
            options: {
                maintainAspectRatio: false,
                animation: false,
                interaction: { mode: "index", intersect: false },
                scales,
                plugins: {
                    legend: {
                        position: "top",
                        align: "end",
                        labels: {
                            color: CHART_TEXT_COLOR,
                            boxWidth: 12,
                            filter: (item, data) => !data.datasets[item.datasetIndex].hideInLegend,
                        },
                    },
                    tooltip: {
                        callbacks: {
                            label: (item) =>
                                `${item.dataset.tooltipLabel || item.dataset.label}: ${this.formatAmount(item.raw)}`,
                            footer: (items) => {
                                const row = periods[items[0].dataIndex];
                                return [
                                    _t("Total (mean): %s", this.formatAmount(row.total_mean)),
                                    _t("Click to see the opportunities"),
                                ];
                            },
                        },
                    },
                },
                onHover: (event, elements) => {
                    event.native.target.style.cursor = elements.length ? "pointer" : "default";
                },
                onClick: (_event, elements) => {
                    if (elements.length) {
                        this.openPeriod(periods[elements[0].index]);
                    }
                },
            },
        });
    }

    // ---------------------------------------------------------------- actions

    /** The opportunities expected in a period (and those won in it). */
    openPeriod(row) {
        const { forecast, domain } = this.state.shown;
        return this.action.doAction({
            type: "ir.actions.act_window",
            name: _t("Opportunities expected in %s", row.period),
            res_model: "crm.lead",
            domain: periodDomain(domain, row, forecast.as_of),
            context: { create: false },
            views: [
                [false, "list"],
                [false, "kanban"],
                [false, "form"],
            ],
            target: "current",
        });
    }

    /** The PDF report of the forecast shown (its domain and options as the report's data). */
    async print() {
        const { domain, options } = this.state.shown;
        const report = await this.action.loadAction("crm_opportunity_management.crm_lead_forecast_report_action");
        return this.action.doAction({ ...report, data: { domain, options } });
    }
}

registry.category("actions").add("crm_opportunity_management.forecast", SalesForecast);
