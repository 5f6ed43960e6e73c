/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { formatMonetary } from "@web/views/fields/formatters";
import {
    amountScales,
    CHART_COLORS,
    CHART_TEXT_COLOR,
    formatCompactAmount,
    formatServerDate,
    openOpportunities,
    PipelineScreen,
    serializeControlDate,
} from "@crm_opportunity_management/views/pipeline_flow/pipeline_common";

/** Key of the screen's controls in a favourite's context (and in its local state). */
export const FLOW_CONTEXT_KEY = "pipeline_flow_options";

/** The controls, ``false`` for the server's default (the quarter of the end date). */
const FLOW_DEFAULTS = { date_from: false, date_to: false, close_from: false, close_to: false };

/** Each date control and the other bound of its range. */
const OTHER_BOUND = { date_from: "date_to", date_to: "date_from", close_from: "close_to", close_to: "close_from" };

/**
 * Draws each bar's amount and number of opportunities above it (options ``labels``:
 * ``[[amount, count]]`` by bar).
 */
const barLabels = {
    id: "crmOpportunityManagementBarLabels",
    afterDatasetsDraw(chart, _args, options) {
        const { ctx } = chart;
        const family = Chart.defaults.font.family;
        ctx.save();
        ctx.textAlign = "center";
        ctx.textBaseline = "bottom";
        ctx.fillStyle = CHART_TEXT_COLOR;
        chart.getDatasetMeta(0).data.forEach((bar, index) => {
            const [amount, count] = options.labels[index];
            const top = Math.min(bar.y, bar.base);
            ctx.font = `bold 12px ${family}`;
            ctx.fillText(amount, bar.x, top - 17);
            ctx.font = `11px ${family}`;
            ctx.fillText(count, bar.x, top - 3);
        });
        ctx.restore();
    },
};

/**
 * The pipeline flow: the pipeline of a closing period at the start of ``date_from`` and
 * at the end of ``date_to``, and the steps from one to the other (created, pulled in,
 * reopened, increased, decreased, pushed out, won, lost), as a waterfall and a table, as
 * ``crm.lead.get_pipeline_flow(domain, options)`` returns them.
 *
 * The search (salesperson, team, type, level, company, …) is the ``domain`` prop, from
 * Odoo's search model; the screen's own controls are the span and the closing period,
 * which a domain cannot say (they are read from the history). A bar or a row opens the
 * opportunities behind it.
 */
export class PipelineFlow extends PipelineScreen {
    static template = "crm_opportunity_management.PipelineFlow";
    static serverMethod = "get_pipeline_flow";
    static resultKey = "flow";
    static contextKey = FLOW_CONTEXT_KEY;
    static defaults = FLOW_DEFAULTS;

    // ---------------------------------------------------------------- controls

    onDate(key, value) {
        const serialized = serializeControlDate(value);
        if ((this.controls[key] || false) === serialized) {
            return;
        }
        this.controls[key] = serialized;
        const other = OTHER_BOUND[key];
        // the other bound as chosen or shown; an unchosen start follows the end's quarter
        const otherValue = this.controls[other] || (key !== "date_to" && this.state.flow?.[other]);
        const isStart = key.endsWith("_from");
        if (serialized && otherValue && (isStart ? serialized > otherValue : serialized < otherValue)) {
            // keep the range valid: the other bound follows the one just chosen
            this.controls[other] = serialized;
        }
        this.load();
    }

    // ---------------------------------------------------------------- data


    /** The waterfall's bars: start, each step (floating from the running total), end. */
    get bars() {
        const flow = this.state.flow;
        if (!flow) {
            return [];
        }
        const total = (key, label, date, values) => ({
            key,
            label,
            date,
            kind: "total",
            color: CHART_COLORS.total,
            count: values.count,
            amount: values.amount,
            range: [0, values.amount],
            leadIds: values.lead_ids,
        });
        const bars = [total("start", _t("Start"), flow.date_from, flow.start)];
        let running = flow.start.amount;
        for (const step of flow.steps) {
            const next = running + step.amount;
            const kind = step.sign > 0 ? "increase" : "decrease";
            bars.push({
                key: step.key,
                label: step.label,
                kind,
                color: CHART_COLORS[kind],
                count: step.count,
                amount: step.amount,
                range: [running, next],
                leadIds: step.lead_ids,
            });
            running = next;
        }
        bars.push(total("end", _t("End"), flow.date_to, flow.end));
        return bars;
    }

    formatAmount(amount, signed = false) {
        const formatted = formatMonetary(Math.abs(amount), { currencyId: this.state.flow?.currency_id });
        if (signed && amount) {
            return `${amount > 0 ? "+" : "−"}${formatted}`;
        }
        return amount < 0 ? `−${formatted}` : formatted;
    }

    formatCount(count) {
        return count === 1 ? _t("1 opportunity") : _t("%s opportunities", count);
    }

    formatDate(value) {
        return formatServerDate(value);
    }

    barTitle(bar) {
        return bar.date ? _t("%(label)s (%(date)s)", { label: bar.label, date: formatServerDate(bar.date) }) : bar.label;
    }

    // ---------------------------------------------------------------- chart

    renderChart() {
        this.chart?.destroy();
        this.chart = null;
        const bars = this.bars;
        if (!bars.length || !this.canvasRef.el) {
            return;
        }
        const currencyId = this.state.flow.currency_id;
        const compact = (amount, signed) => {
            const formatted = formatCompactAmount(Math.abs(amount), currencyId);
            return amount < 0 ? `−${formatted}` : signed && amount ? `+${formatted}` : formatted;
        };
        this.chart = new Chart(this.canvasRef.el, {
            type: "bar",
            data: {
                labels: bars.map((bar) => (bar.date ? [bar.label, formatServerDate(bar.date)] : bar.label)),
                datasets: [
                    {
                        data: bars.map((bar) => bar.range),
                        backgroundColor: bars.map((bar) => bar.color),
                        borderRadius: 3,
                        borderSkipped: false,
                        maxBarThickness: 72,
                        minBarLength: 2, // a step of a few opportunities stays visible
                    },
                ],
            },
            plugins: [barLabels],
            options: {
                maintainAspectRatio: false,
                animation: false,
                layout: { padding: { top: 36 } },
                interaction: { mode: "index", intersect: false },
                scales: amountScales(currencyId),
                plugins: {
                    legend: { display: false },
                    crmOpportunityManagementBarLabels: {
                        labels: bars.map((bar) => [
                            compact(bar.amount, bar.kind !== "total"),
                            String(bar.count),
                        ]),
                    },
                    tooltip: {
                        callbacks: {
                            title: (items) => this.barTitle(bars[items[0].dataIndex]),
                            label: (item) => {
                                const bar = bars[item.dataIndex];
                                return [this.formatAmount(bar.amount, bar.kind !== "total"), this.formatCount(bar.count)];
                            },
                            footer: (items) => (bars[items[0].dataIndex].count ? _t("Click to see them") : ""),
                        },
                    },
                },
                onHover: (event, elements) => {
                    const bar = elements.length && bars[elements[0].index];
                    event.native.target.style.cursor = bar?.count ? "pointer" : "default";
                },
                onClick: (_event, elements) => {
                    if (elements.length) {
                        this.openBar(bars[elements[0].index]);
                    }
                },
            },
        });
    }

    openBar(bar) {
        if (!bar.count) {
            return;
        }
        return openOpportunities(this.action, this.barTitle(bar), bar.leadIds);
    }
}
