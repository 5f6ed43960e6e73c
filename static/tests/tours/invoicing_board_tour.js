/** @odoo-module **/

import { registry } from "@web/core/registry";

const BOARD = ".o_crm_opportunity_management_invoicing_board";
const CARD = ".o_crm_opportunity_management_invoicing_board_card";

/** Type a date in a native date input (the tour helpers' "edit" does not handle them). */
function setDate(name, value) {
    const input = document.querySelector(`${BOARD} input[name='${name}']`);
    input.value = value;
    input.dispatchEvent(new Event("change", { bubbles: true }));
}

/**
 * The invoicing board: the documents of the current quarter by month; hiding a type,
 * collapsing another, then opening a document from its card.
 * Data: see TestInvoicingBoardTour in tests/test_invoicing_board_tour.py.
 */
registry.category("web_tour.tours").add("crm_opportunity_management_invoicing_board", {
    steps: () => [
        {
            content: "the board shows the months with the tour's confirmed order",
            trigger: `${BOARD} ${CARD}[data-document-type='order']:contains('Tour Invoicing Customer')`,
        },
        {
            content: "and its opportunity",
            trigger: `${BOARD} ${CARD}[data-document-type='opportunity']:contains('Tour invoicing opportunity')`,
        },
        {
            content: "hide the orders",
            trigger: `${BOARD} input[name='show_order']`,
            run: "click",
        },
        {
            content: "the orders are gone",
            trigger: `${BOARD}:not(:has(${CARD}[data-document-type='order'])) ${CARD}[data-document-type='opportunity']`,
        },
        {
            content: "collapse the opportunities",
            trigger: `${BOARD} input[name='collapse_opportunity']`,
            run: "click",
        },
        {
            content: "one aggregated card per month replaces them",
            trigger: `${BOARD} .o_crm_opportunity_management_invoicing_board_collapsed[data-document-type='opportunity']`,
        },
        {
            content: "no opportunity card is left",
            trigger: `${BOARD}:not(:has(${CARD}:not(.o_crm_opportunity_management_invoicing_board_collapsed)[data-document-type='opportunity'])) .o_crm_opportunity_management_invoicing_board_column`,
        },
        {
            content: "expand the opportunities again",
            trigger: `${BOARD} input[name='collapse_opportunity']`,
            run: "click",
        },
        {
            content: "the opportunities' own date filter: from a day after the period",
            trigger: `${BOARD} input[name='date_from_opportunity']`,
            run: () => setDate("date_from_opportunity", "2999-01-01"),
        },
        {
            content: "no opportunity is left on the board",
            trigger: `${BOARD}:not(:has(${CARD}[data-document-type='opportunity'])) .o_crm_opportunity_management_invoicing_board_column`,
        },
        {
            content: "clear the date filter",
            trigger: `${BOARD} input[name='date_from_opportunity']`,
            run: () => setDate("date_from_opportunity", ""),
        },
        {
            content: "open the opportunity from its card",
            trigger: `${BOARD} ${CARD}[data-document-type='opportunity']:contains('Tour invoicing opportunity')`,
            run: "click",
        },
        {
            content: "its form opens for editing",
            trigger: ".o_form_view .o_breadcrumb:contains('Tour invoicing opportunity')",
        },
    ],
});
