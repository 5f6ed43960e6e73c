/** @odoo-module **/

import { Component, onWillStart, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { formatDate, deserializeDate } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { KeepLast } from "@web/core/utils/concurrency";
import { formatMonetary } from "@web/views/fields/formatters";
import { useSetupAction } from "@web/search/action_hook";

const { DateTime } = luxon;

/** Quarters offered around today, on each side. */
const QUARTER_SPAN = 8;

export const DOCUMENT_TYPES = [
    { key: "opportunity", label: _t("Opportunities"), cardLabel: _t("Opportunity") },
    { key: "order", label: _t("Orders"), cardLabel: _t("Sales Order") },
    { key: "invoice", label: _t("Invoices"), cardLabel: _t("Invoice") },
];

const PAYMENT_STATES = {
    not_paid: { label: _t("Not Paid"), className: "text-bg-danger" },
    in_payment: { label: _t("In Payment"), className: "text-bg-info" },
    paid: { label: _t("Paid"), className: "text-bg-success" },
    partial: { label: _t("Partially Paid"), className: "text-bg-warning" },
    reversed: { label: _t("Reversed"), className: "text-bg-secondary" },
    invoicing_legacy: { label: _t("Invoicing App Legacy"), className: "text-bg-secondary" },
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

/**
 * The invoicing progress board: one column per month of the chosen quarters with the
 * opportunities (by expected invoice date), confirmed sales orders and posted invoices
 * of one company, as ``crm.lead.get_board("invoicing", ...)`` returns them. A document
 * type can be hidden or collapsed into one card per month; a card opens its document.
 */
export class InvoicingBoard extends Component {
    static template = "crm_opportunity_management.InvoicingBoard";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.companyService = useService("company");
        this.documentTypes = DOCUMENT_TYPES;
        this.keepLast = new KeepLast();
        const current = quarterKey(DateTime.now());
        this.quarters = [];
        for (let offset = -QUARTER_SPAN; offset <= QUARTER_SPAN; offset++) {
            const date = DateTime.now().plus({ quarters: offset });
            this.quarters.push({ key: quarterKey(date), label: `${date.year} Q${date.quarter}` });
        }
        const saved = this.props.state?.invoicingBoardFilters;
        this.state = useState({
            filters: saved || {
                quarterFrom: current,
                quarterTo: current,
                companyId: this.companyService.currentCompany.id,
                userId: false,
                currencyId: false,
                show: { opportunity: true, order: true, invoice: true },
                dates: { opportunity: {}, order: {}, invoice: {} },
                collapse: { opportunity: false, order: false, invoice: false },
            },
            companies: [],
            users: [],
            currencies: [],
            board: null,
            loading: false,
        });
        useSetupAction({
            getLocalState: () => ({ invoicingBoardFilters: this.state.filters }),
        });
        onWillStart(async () => {
            await Promise.all([this.loadChoices(), this.loadBoard()]);
        });
    }

    async loadChoices() {
        const companyIds = Object.keys(this.companyService.allowedCompanies).map(Number);
        const [companies, users, currencies] = await Promise.all([
            this.orm.searchRead("res.company", [["id", "in", companyIds]], ["name", "currency_id"], {
                order: "sequence, name",
                context: { allowed_company_ids: companyIds },
            }),
            this.orm.searchRead("res.users", [["share", "=", false]], ["name"], { order: "name" }),
            this.orm.searchRead("res.currency", [], ["name"], { order: "name" }),
        ]);
        this.state.companies = companies;
        this.state.users = users;
        this.state.currencies = currencies;
    }

    get options() {
        const filters = this.state.filters;
        const dateTo = quarterStart(filters.quarterTo).plus({ months: 3 }).minus({ days: 1 });
        return {
            date_from: quarterStart(filters.quarterFrom).toISODate(),
            date_to: dateTo.toISODate(),
            company_id: filters.companyId,
            user_id: filters.userId,
            currency_id: filters.currencyId,
            document_types: this.visibleTypes,
            collapse: DOCUMENT_TYPES.map((type) => type.key).filter((key) => filters.collapse[key]),
            date_filters: this.dateFilters,
        };
    }

    /** The date filter of each shown type that has one: {type: {date_from, date_to}}. */
    get dateFilters() {
        const filters = {};
        for (const key of this.visibleTypes) {
            const { from, to } = this.state.filters.dates[key] || {};
            if (from || to) {
                filters[key] = { ...(from && { date_from: from }), ...(to && { date_to: to }) };
            }
        }
        return filters;
    }

    get visibleTypes() {
        return DOCUMENT_TYPES.map((type) => type.key).filter((key) => this.state.filters.show[key]);
    }

    get currencyId() {
        const company = this.state.companies.find((company) => company.id === this.state.filters.companyId);
        return company?.currency_id?.[0];
    }

    async loadBoard() {
        if (!this.visibleTypes.length) {
            this.state.board = { columns: [] };
            return;
        }
        this.state.loading = true;
        try {
            // the chosen company, even when it is not among the active ones of the switcher
            const board = await this.keepLast.add(
                this.orm.call("crm.lead", "get_board", ["invoicing", [], this.options], {
                    context: { allowed_company_ids: [this.state.filters.companyId] },
                })
            );
            this.state.board = board;
        } finally {
            this.state.loading = false;
        }
    }

    // ---------------------------------------------------------------- filters

    onQuarterFrom(ev) {
        const filters = this.state.filters;
        filters.quarterFrom = ev.target.value;
        if (quarterIndex(filters.quarterFrom) > quarterIndex(filters.quarterTo)) {
            filters.quarterTo = filters.quarterFrom;
        }
        this.loadBoard();
    }

    onQuarterTo(ev) {
        const filters = this.state.filters;
        filters.quarterTo = ev.target.value;
        if (quarterIndex(filters.quarterTo) < quarterIndex(filters.quarterFrom)) {
            filters.quarterFrom = filters.quarterTo;
        }
        this.loadBoard();
    }

    onCompany(ev) {
        this.state.filters.companyId = Number(ev.target.value);
        this.loadBoard();
    }

    onUser(ev) {
        this.state.filters.userId = Number(ev.target.value) || false;
        this.loadBoard();
    }

    onCurrency(ev) {
        this.state.filters.currencyId = Number(ev.target.value) || false;
        this.loadBoard();
    }

    onTypeDate(key, bound, ev) {
        const dates = this.state.filters.dates[key];
        dates[bound] = ev.target.value || false;
        if (dates.from && dates.to && dates.from > dates.to) {
            // keep the range valid: the other bound follows the one just chosen
            dates[bound === "from" ? "to" : "from"] = dates[bound];
        }
        this.loadBoard();
    }

    onToggleShow(key) {
        this.state.filters.show[key] = !this.state.filters.show[key];
        this.loadBoard();
    }

    onToggleCollapse(key) {
        this.state.filters.collapse[key] = !this.state.filters.collapse[key];
        this.loadBoard();
    }

    // ---------------------------------------------------------------- board

    formatAmount(amount) {
        return formatMonetary(amount, { currencyId: this.currencyId });
    }

    formatDate(value) {
        return value ? formatDate(deserializeDate(value)) : "";
    }

    typeLabel(key) {
        return DOCUMENT_TYPES.find((type) => type.key === key)?.cardLabel || key;
    }

    paymentState(card) {
        return card.document_type === "invoice" && PAYMENT_STATES[card.payment_state];
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

registry.category("actions").add("crm_opportunity_management.invoicing_board", InvoicingBoard);
