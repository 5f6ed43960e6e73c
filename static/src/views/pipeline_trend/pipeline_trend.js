/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { deserializeDate } from "@web/core/l10n/dates";
import { formatMonetary, formatPercentage } from "@web/views/fields/formatters";
import {
    amountScales,
    CHART_COLORS,
    CHART_TEXT_COLOR,
    formatServerDate,
    openOpportunities,
    PipelineScreen,
    serializeControlDate,
} from "@crm_opportunity_management/views/pipeline_flow/pipeline_common";

/** Key of the screen's controls in a favourite's context (and in its local state). */
export const TREND_CONTEXT_KEY = "pipeline_trend_options";

/** The controls: ``date_to`` false for today, closing bounds false for none. */
const TREND_DEFAULTS = { weeks: 13, date_to: false, close_from: false, close_to: false };

/** The numbers of weeks offered (the chosen one is added when it is another). */
const WEEK_CHOICES = [4, 8, 13, 26, 52, 104];

/**
 * The pipeline trend: the open pipeline as it stood at the end of each of the past weeks
 * (total, which is the best case, commit and weighted), rebuilt from the opportunity
 * history by ``crm.lead.get_pipeline_trend(domain, options)``, as a line chart and a table.
 *
 * The search is the ``domain`` prop, from Odoo's search model; the screen's own controls
 * are the number of weeks, the last day, and an optional closing period. A week (a point
 * of the chart or a row) opens the opportunities of its pipeline.
 */
export class PipelineTrend extends PipelineScreen {
    static template = "crm_opportunity_management.PipelineTrend";
    static serverMethod = "get_pipeline_trend";
    static resultKey = "trend";
    static contextKey = TREND_CONTEXT_KEY;
    static defaults = TREND_DEFAULTS;

    // ---------------------------------------------------------------- controls

    /** The placeholder of an empty closing bound. */
    get anyDate() {
        return _t("Any");
    }

    get weekChoices() {
        const choices = new Set([...WEEK_CHOICES, this.controls.weeks]);
        return [...choices].sort((a, b) => a - b).map((weeks) => ({ weeks, label: _t("%s weeks", weeks) }));
    }

    onWeeks(ev) {
        this.controls.weeks = Number(ev.target.value);
        this.load();
    }

    onDate(key, value) {
        const serialized = serializeControlDate(value);
        if ((this.controls[key] || false) === serialized) {
            return;
        }
        this.controls[key] = serialized;
        const { close_from: from, close_to: to } = this.controls;
        if (from && to && from > to) {
            // keep the closing period valid: the other bound follows the one just chosen
            this.controls[key === "close_from" ? "close_to" : "close_from"] = serialized;
        }
        this.load();
    }

    // ---------------------------------------------------------------- data


    get weeks() {
        return this.state.trend?.weeks || [];
    }

    /** The lines of the chart and the columns of the table, in this order. */
    get series() {
        const threshold = this.state.trend?.commit_threshold ?? 0;
        return [
            { key: "pipeline", label: _t("Pipeline (best case)"), color: CHART_COLORS.pipeline },
            { key: "commit", label: _t("Commit (≥ %s)", formatPercentage(threshold / 100)), color: CHART_COLORS.commit },
            { key: "weighted", label: _t("Weighted"), color: CHART_COLORS.weighted },
        ];
    }

    formatAmount(amount) {
        return formatMonetary(amount, { currencyId: this.state.trend?.currency_id });
    }

    formatDate(value) {
        return formatServerDate(value);
    }

    formatCount(count) {
        return count === 1 ? _t("1 opportunity") : _t("%s opportunities", count);
    }

    // ---------------------------------------------------------------- chart

    renderChart() {
        this.chart?.destroy();
        this.chart = null;
        const weeks = this.weeks;
        if (!weeks.length || !this.canvasRef.el) {
            return;
        }
        const currencyId = this.state.trend.currency_id;
        this.chart = new Chart(this.canvasRef.el, {
            type: "line",
            data: {
                labels: weeks.map((week) =>
                    deserializeDate(week.week_end).toLocaleString({ month: "short", day: "numeric" })
                ),
                datasets: this.series.map((serie, index) => ({
                    label: serie.label,
                    data: weeks.map((week) => week[serie.key]),
                    borderColor: serie.color,
                    backgroundColor: serie.color,
                    // the total shaded down to zero (a light tint of its colour, as hex alpha)
                    fill: index === 0 && { target: "origin", above: `${serie.color}1F` },
                    tension: 0.25,
                    pointRadius: 3,
                    pointHoverRadius: 5,
                })),
            },
            options: {
                maintainAspectRatio: false,
                animation: false,
                interaction: { mode: "index", intersect: false },
                scales: amountScales(currencyId),
                plugins: {
                    legend: { position: "top", align: "end", labels: { color: CHART_TEXT_COLOR, boxWidth: 12 } },
                    tooltip: {
                        callbacks: {
                            title: (items) => _t("Week ending %s", this.formatDate(weeks[items[0].dataIndex].week_end)),
                            label: (item) => `${item.dataset.label}: ${this.formatAmount(item.raw)}`,
                            footer: (items) => {
                                const week = weeks[items[0].dataIndex];
                                return week.count
                                    ? [this.formatCount(week.count), _t("Click to see them")]
                                    : this.formatCount(0);
                            },
                        },
                    },
                },
                onHover: (event, elements) => {
                    const week = elements.length && weeks[elements[0].index];
                    event.native.target.style.cursor = week?.count ? "pointer" : "default";
                },
                onClick: (_event, elements) => {
                    if (elements.length) {
                        this.openWeek(weeks[elements[0].index]);
                    }
                },
            },
        });
    }

    /** The opportunities of a week's pipeline, asked for when wanted (a week lists none). */
    async openWeek(week) {
        if (!week.count) {
            return;
        }
        const [withIds] = (
            await this.orm.call("crm.lead", "get_pipeline_trend", [
                this.lastDomain || [],
                { ...this.options, weeks: 1, date_to: week.week_end, lead_ids: true },
            ])
        ).weeks;
        return openOpportunities(
            this.action,
            _t("Pipeline at the end of %s", this.formatDate(week.week_end)),
            withIds.lead_ids
        );
    }
}
