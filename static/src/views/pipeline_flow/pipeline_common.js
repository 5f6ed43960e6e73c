/** @odoo-module **/

import {
    Component,
    onWillStart,
    onWillUnmount,
    onWillUpdateProps,
    toRaw,
    useEffect,
    useRef,
    useState,
} from "@odoo/owl";
import { loadBundle } from "@web/core/assets";
import { cookie } from "@web/core/browser/cookie";
import { getCustomColor } from "@web/core/colors/colors";
import { formatCurrency } from "@web/core/currency";
import { DateTimeInput } from "@web/core/datetime/datetime_input";
import { deserializeDate, formatDate, serializeDate } from "@web/core/l10n/dates";
import { KeepLast } from "@web/core/utils/concurrency";
import { useService } from "@web/core/utils/hooks";
import { useSetupAction } from "@web/search/action_hook";
import { Layout } from "@web/search/layout";
import { SearchBar } from "@web/search/search_bar/search_bar";
import { useSearchBarToggler } from "@web/search/search_bar/search_bar_toggler";

/**
 * What the pipeline flow and trend screens share: their controls (kept when coming back
 * from the opportunities, saved with a favourite), the colours of their charts, and how
 * they open the opportunities behind a number.
 */

const colorScheme = cookie.get("color_scheme");
export const CHART_TEXT_COLOR = getCustomColor(colorScheme, "#374151", "#E4E4E4");
export const CHART_GRID_COLOR = getCustomColor(colorScheme, "rgba(0,0,0,.08)", "rgba(255,255,255,.15)");
export const CHART_COLORS = {
    total: getCustomColor(colorScheme, "#7E8290", "#A4A8B6"),
    increase: "#28A745",
    decrease: "#DC3545",
    pipeline: "#3188E6",
    commit: "#00A78D",
    weighted: "#F48935",
};

/** A date of the server (``YYYY-MM-DD``) in the user's format; "" for none. */
export function formatServerDate(value) {
    return value ? formatDate(deserializeDate(value)) : "";
}

/** A date of a control as Odoo's date input wants it (a luxon date, or false). */
export function controlDate(value) {
    return value ? deserializeDate(value) : false;
}

/** A date chosen in Odoo's date input as a control keeps it (``YYYY-MM-DD``, or false). */
export function serializeControlDate(value) {
    return value ? serializeDate(value) : false;
}

/**
 * A compact amount in the company currency, for axes and bar labels: one decimal where
 * it says something ("$ 12.5k", "$ 1.5M"), none where it would be zero ("$ 12k", "$ 1M").
 */
export function formatCompactAmount(amount, currencyId) {
    const thousands = Math.max(0, Math.floor(Math.log10(Math.abs(amount) || 1) / 3));
    const scaled = Math.round((amount / 1000 ** thousands) * 10) / 10;
    const decimals = Number.isInteger(scaled) ? 0 : 1;
    return formatCurrency(amount, currencyId, { humanReadable: true, digits: [69, decimals] });
}

/**
 * The controls of a screen (``defaults``: their values when nothing is chosen, ``false``
 * for "the server's default"), as a reactive object that:
 * - comes back as it was when the user returns from the opportunities (breadcrumbs);
 * - is saved with a favourite (the chosen values only, under ``contextKey`` in its
 *   context), and set from a favourite when one is applied (once: the user may change
 *   the controls after).
 *
 * @returns {{ controls: Object, applyFavorite: (context: Object) => boolean }}
 *   ``applyFavorite`` returns whether it changed the controls
 */
export function usePipelineControls({ props, contextKey, defaults, rootRef }) {
    const controls = useState({ ...defaults, ...(props.state?.[contextKey] || {}) });
    const favoriteJson = (context) => {
        const options = context?.[contextKey];
        return options ? JSON.stringify(options) : null;
    };
    // back from a document: the controls as they were, not as the favourite set them
    let applied = props.state ? favoriteJson(props.context) : null;
    const applyFavorite = (context) => {
        const json = favoriteJson(context);
        if (json === applied) {
            return false;
        }
        applied = json;
        if (!json) {
            return false;
        }
        const options = context[contextKey];
        for (const [key, value] of Object.entries(defaults)) {
            controls[key] = key in options ? options[key] : value;
        }
        return true;
    };
    if (!props.state) {
        applyFavorite(props.context);
    }
    useSetupAction({
        rootRef,
        getLocalState: () => ({ [contextKey]: { ...toRaw(controls) } }),
        getContext: () => ({
            [contextKey]: Object.fromEntries(
                Object.entries(toRaw(controls)).filter(([key, value]) => value !== defaults[key])
            ),
        }),
    });
    return { controls, applyFavorite };
}

/** The charts' axes: categories along x, amounts in ``currencyId`` (compact) along y. */
export function amountScales(currencyId) {
    return {
        x: { grid: { display: false }, ticks: { color: CHART_TEXT_COLOR } },
        y: {
            beginAtZero: true,
            grid: { color: CHART_GRID_COLOR },
            ticks: { color: CHART_TEXT_COLOR, callback: (value) => formatCompactAmount(value, currencyId) },
        },
    };
}

/**
 * Open the opportunities ``leadIds`` (a list, then their forms), the lost ones too: they
 * are archived.
 */
export function openOpportunities(actionService, name, leadIds) {
    return actionService.doAction({
        type: "ir.actions.act_window",
        name,
        res_model: "crm.lead",
        domain: [["id", "in", leadIds]],
        context: { active_test: false },
        views: [
            [false, "list"],
            [false, "form"],
        ],
        target: "current",
    });
}

/**
 * A pipeline screen: a chart and a table of what a ``crm.lead`` method returns for the
 * search's ``domain`` and the screen's controls. Subclasses set ``serverMethod`` (called
 * as ``[domain, options]``), ``resultKey`` (where the result is kept in ``state``),
 * ``contextKey`` and ``defaults`` (the controls) and draw ``renderChart``.
 */
export class PipelineScreen extends Component {
    static components = { Layout, SearchBar, DateTimeInput };
    static props = {
        className: { type: String, optional: true },
        context: Object,
        display: Object,
        domain: Array,
        state: { type: Object, optional: true },
    };

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.keepLast = new KeepLast();
        this.searchBarToggler = useSearchBarToggler();
        this.rootRef = useRef("root");
        this.canvasRef = useRef("canvas");
        const { contextKey, defaults, resultKey } = this.constructor;
        const { controls, applyFavorite } = usePipelineControls({
            props: this.props,
            contextKey,
            defaults,
            rootRef: this.rootRef,
        });
        this.controls = controls;
        this.applyFavorite = applyFavorite;
        this.state = useState({ [resultKey]: null, loading: false });
        onWillStart(() => Promise.all([loadBundle("web.chartjs_lib"), this.load(this.props.domain)]));
        onWillUpdateProps((nextProps) => {
            this.applyFavorite(nextProps.context);
            return this.load(nextProps.domain);
        });
        useEffect(
            () => this.renderChart(),
            () => [this.state[resultKey]]
        );
        onWillUnmount(() => this.chart?.destroy());
    }

    get result() {
        return this.state[this.constructor.resultKey];
    }

    /** The chosen controls (the unchosen ones: the server's defaults). */
    get options() {
        return Object.fromEntries(Object.entries(this.controls).filter(([, value]) => value));
    }

    /** A control's date: the chosen one, else the server's default it was computed with. */
    dateValue(key) {
        return controlDate(this.controls[key] || this.result?.[key]);
    }

    async load(domain = this.lastDomain) {
        this.lastDomain = domain;
        this.state.loading = true;
        try {
            this.state[this.constructor.resultKey] = await this.keepLast.add(
                this.orm.call("crm.lead", this.constructor.serverMethod, [domain || [], this.options])
            );
        } finally {
            this.state.loading = false;
        }
    }

    renderChart() {}
}
