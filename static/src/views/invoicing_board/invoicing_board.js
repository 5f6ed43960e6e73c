/** @odoo-module **/

import { Component, onWillStart, onWillUpdateProps, toRaw, useRef, useState } from "@odoo/owl";
import { DateTimeInput } from "@web/core/datetime/datetime_input";
import { _t } from "@web/core/l10n/translation";
import { deserializeDate, formatDate, serializeDate } from "@web/core/l10n/dates";
import { KeepLast } from "@web/core/utils/concurrency";
import { useService } from "@web/core/utils/hooks";
import { useSetupAction } from "@web/search/action_hook";
import { Layout } from "@web/search/layout";
import { SearchBar } from "@web/search/search_bar/search_bar";
import { useSearchBarToggler } from "@web/search/search_bar/search_bar_toggler";
import { formatMonetary } from "@web/views/fields/formatters";

const { DateTime } = luxon;

/** Quarters offered around today, on each side. */
const QUARTER_SPAN = 8;

/** The document types (their labels come with the board, translated by the server). */
export const DOCUMENT_TYPE_KEYS = ["opportunity", "order", "invoice"];

/** Key of the board's controls in the context of a saved favourite. */
export const FAVORITE_CONTEXT_KEY = "invoicing_board_options";

/** Colour of an invoice's payment state badge (its label is the server's). */
const PAYMENT_STATE_CLASSES = {
    not_paid: "text-bg-danger",
    in_payment: "text-bg-info",
    paid: "text-bg-success",
    partial: "text-bg-warning",
};

/** "2026-1" for the first quarter of 2026: sorts as a number through `quarterIndex`. */
function quarterKey(date) {
    return `${date.year}-${date.quarter}`;
}

function quarterIndex(key) {
    const [year, quarter] = key.split("-").map(Number);
    return year * 4 + quarter - 1;
}

function quarterStart(key) {
    const [year, quarter] = key.split("-").map(Number);
    return DateTime.fromObject({ year, month: (quarter - 1) * 3 + 1, day: 1 });
}

function favoriteJson(context) {
    const options = context?.[FAVORITE_CONTEXT_KEY];
    return options ? JSON.stringify(options) : null;
}

function perType(value) {
    return Object.fromEntries(DOCUMENT_TYPE_KEYS.map((key) => [key, value()]));
}

/**
 * The invoicing progress board: one column per month of the chosen quarters with the
 * opportunities (by expected invoice date), confirmed sales orders and posted invoices
 * of one company, as ``crm.lead.get_board("invoicing", domain, options)`` returns them.
 *
 * What the search says (salesperson, currency, opportunity type, document types, …) is
 * the ``domain`` prop, from Odoo's search model; the board's own controls are what a
 * domain cannot say: the period (the months shown, even empty), the company (whose
 * currency the totals are in), a date range per document type, and which types are
 * collapsed into one card per month. Favourites keep those controls in their context.
 */
export class InvoicingBoard extends Component {
    static template = "crm_opportunity_management.InvoicingBoard";
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
        this.companyService = useService("company");
        this.keepLast = new KeepLast();
        this.searchBarToggler = useSearchBarToggler();
        this.rootRef = useRef("root");
        const current = quarterKey(DateTime.now());
        this.state = useState({
            controls: this.props.state?.invoicingBoardControls || {
                quarterFrom: current,
                quarterTo: current,
                companyId: this.companyService.currentCompany.id,
                dates: perType(() => ({ from: false, to: false })),
                collapse: perType(() => false),
            },
            board: null,
            loading: false,
        });
        /** the favourite's controls last applied (JSON), applied again only when they change */
        this.favoriteOptions = null;
        if (this.props.state) {
            // back from a document: the controls as they were, not as the favourite set them
            this.favoriteOptions = favoriteJson(this.props.context);
        } else {
            this.applyFavoriteOptions(this.props.context);
        }
        useSetupAction({
            rootRef: this.rootRef,
            getLocalState: () => ({ invoicingBoardControls: toRaw(this.state.controls) }),
            // saved with a favourite (the period, per-type dates and collapsed types)
            getContext: () => ({ [FAVORITE_CONTEXT_KEY]: this.favoriteContext }),
        });
        onWillStart(() => this.loadBoard(this.props.domain));
        onWillUpdateProps((nextProps) => {
            this.applyFavoriteOptions(nextProps.context);
            return this.loadBoard(nextProps.domain);
        });
    }

    // ---------------------------------------------------------------- controls

    /** The quarters offered: around today, and the chosen ones wherever they are. */
    get quarters() {
        const keys = new Set();
        for (let offset = -QUARTER_SPAN; offset <= QUARTER_SPAN; offset++) {
            keys.add(quarterKey(DateTime.now().plus({ quarters: offset })));
        }
        keys.add(this.state.controls.quarterFrom);
        keys.add(this.state.controls.quarterTo);
        return [...keys]
            .sort((a, b) => quarterIndex(a) - quarterIndex(b))
            .map((key) => {
                const [year, quarter] = key.split("-");
                return { key, label: _t("%(year)s Q%(quarter)s", { year, quarter }) };
            });
    }

    /** The companies of the company switcher (in the session: nothing to load). */
    get companies() {
        return Object.values(this.companyService.allowedCompanies).sort(
            (a, b) => a.sequence - b.sequence || a.name.localeCompare(b.name)
        );
    }

    /** Labels of the document types, from the server (the board's ``document_types``). */
    get documentTypes() {
        return this.state.board?.document_types || [];
    }

    get options() {
        const controls = this.state.controls;
        return {
            ...this.favoriteContext,
            company_id: controls.companyId,
        };
    }

    /** The options a favourite keeps: all but the company, which follows the user's. */
    get favoriteContext() {
        const controls = this.state.controls;
        const dateTo = quarterStart(controls.quarterTo).plus({ months: 3 }).minus({ days: 1 });
        const dateFilters = {};
        for (const key of DOCUMENT_TYPE_KEYS) {
            const { from, to } = controls.dates[key];
            if (from || to) {
                dateFilters[key] = { ...(from && { date_from: from }), ...(to && { date_to: to }) };
            }
        }
        return {
            date_from: quarterStart(controls.quarterFrom).toISODate(),
            date_to: dateTo.toISODate(),
            collapse: DOCUMENT_TYPE_KEYS.filter((key) => controls.collapse[key]),
            date_filters: dateFilters,
        };
    }

    /** A favourite just applied brings its controls (once: the user may change them after). */
    applyFavoriteOptions(context) {
        const options = context?.[FAVORITE_CONTEXT_KEY];
        const json = favoriteJson(context);
        if (json === this.favoriteOptions) {
            return;
        }
        this.favoriteOptions = json;
        if (!options) {
            return;
        }
        const controls = this.state.controls;
        const from = options.date_from && DateTime.fromISO(options.date_from);
        const to = options.date_to && DateTime.fromISO(options.date_to);
        if (from?.isValid && to?.isValid && from <= to) {
            controls.quarterFrom = quarterKey(from);
            controls.quarterTo = quarterKey(to);
        }
        for (const key of DOCUMENT_TYPE_KEYS) {
            const dates = options.date_filters?.[key] || {};
            controls.dates[key] = { from: dates.date_from || false, to: dates.date_to || false };
            controls.collapse[key] = (options.collapse || []).includes(key);
        }
    }

    onQuarterFrom(ev) {
        const controls = this.state.controls;
        controls.quarterFrom = ev.target.value;
        if (quarterIndex(controls.quarterFrom) > quarterIndex(controls.quarterTo)) {
            controls.quarterTo = controls.quarterFrom;
        }
        this.loadBoard();
    }

    onQuarterTo(ev) {
        const controls = this.state.controls;
        controls.quarterTo = ev.target.value;
        if (quarterIndex(controls.quarterTo) < quarterIndex(controls.quarterFrom)) {
            controls.quarterFrom = controls.quarterTo;
        }
        this.loadBoard();
    }

    onCompany(ev) {
        this.state.controls.companyId = Number(ev.target.value);
        this.loadBoard();
    }

    typeDate(key, bound) {
        const value = this.state.controls.dates[key][bound];
        return value ? deserializeDate(value) : false;
    }

    /** A date of a type's own filter (Odoo's date input: the user's language format). */
    onTypeDate(key, bound, value) {
        const dates = this.state.controls.dates[key];
        const serialized = value ? serializeDate(value) : false;
        if (dates[bound] === serialized) {
            return;
        }
        dates[bound] = serialized;
        if (dates.from && dates.to && dates.from > dates.to) {
            // keep the range valid: the other bound follows the one just chosen
            dates[bound === "from" ? "to" : "from"] = serialized;
        }
        this.loadBoard();
    }

    onToggleCollapse(key) {
        this.state.controls.collapse[key] = !this.state.controls.collapse[key];
        this.loadBoard();
    }

    // ---------------------------------------------------------------- board

    async loadBoard(domain = this.lastDomain) {
        this.lastDomain = domain;
        this.state.loading = true;
        try {
            // the chosen company, even when it is not among the active ones of the switcher
            const board = await this.keepLast.add(
                this.orm.call("crm.lead", "get_board", ["invoicing", domain || [], this.options], {
                    context: { allowed_company_ids: [this.state.controls.companyId] },
                })
            );
            this.state.board = board;
        } finally {
            this.state.loading = false;
        }
    }

    formatAmount(amount) {
        return formatMonetary(amount, { currencyId: this.state.board?.currency_id });
    }

    formatDate(value) {
        return value ? formatDate(deserializeDate(value)) : "";
    }

    paymentStateClass(card) {
        return PAYMENT_STATE_CLASSES[card.payment_state] || "text-bg-secondary";
    }

    cardKey(card) {
        return card.collapsed ? `collapsed-${card.document_type}` : `${card.model}-${card.id}`;
    }

    openCard(card) {
        if (card.collapsed || !card.model) {
            return;
        }
        this.action.doAction({
            type: "ir.actions.act_window",
            res_model: card.model,
            res_id: card.id,
            views: [[false, "form"]],
            target: "current",
        });
    }
}
