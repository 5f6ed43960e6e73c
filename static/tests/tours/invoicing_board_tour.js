/** @odoo-module **/

import { formatDate } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";

const BOARD = ".o_crm_opportunity_management_invoicing_board";
const CARD = ".o_crm_opportunity_management_invoicing_board_card";
const OPPORTUNITY_FROM = `${BOARD} .o_crm_opportunity_management_type_date[data-document-type='opportunity'][data-bound='from'] input`;

/**
 * The invoicing board: the documents of the current quarter by month; the search's
 * document type filter hides the orders, a type is collapsed, a type's own date filter
 * (Odoo's date input, in the user's format) empties it, a facet typed in the search bar
 * narrows the board, then a document opens from its card.
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
            content: "open the search's filters",
            trigger: `${BOARD} .o_control_panel .o_searchview_dropdown_toggler`,
            run: "click",
        },
        {
            content: "hide the orders: show the opportunities only",
            trigger: ".o_filter_menu .o_menu_item:contains('Opportunities')",
            run: "click",
        },
        {
            content: "the filter is a facet of the search",
            trigger: `${BOARD} .o_searchview_facet:contains('Opportunities')`,
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
            content: "the opportunities' own date filter (a date input in the user's format): from a day after the period",
            trigger: OPPORTUNITY_FROM,
            run: `edit ${formatDate(luxon.DateTime.fromISO("2999-01-01"))} && press Enter`,
        },
        {
            content: "no opportunity is left on the board",
            trigger: `${BOARD}:not(:has(${CARD}[data-document-type='opportunity'])) .o_crm_opportunity_management_invoicing_board_column`,
        },
        {
            content: "clear the date filter",
            trigger: OPPORTUNITY_FROM,
            run: "clear && press Enter",
        },
        {
            content: "the opportunity is back",
            trigger: `${BOARD} ${CARD}[data-document-type='opportunity']:contains('Tour invoicing opportunity')`,
        },
        {
            content: "remove the document type facet",
            trigger: `${BOARD} .o_searchview_facet:contains('Opportunities') .o_facet_remove`,
            run: "click",
        },
        {
            content: "the orders are back",
            trigger: `${BOARD} ${CARD}[data-document-type='order']:contains('Tour Invoicing Customer')`,
        },
        {
            content: "search the opportunity's name in the search bar",
            trigger: `${BOARD} .o_searchview_input`,
            run: "edit Tour invoicing opportunity",
        },
        {
            content: "the search bar proposes to search the documents by name first: take it",
            trigger: `${BOARD} .o_searchview_autocomplete .o_menu_item.focus:contains('Tour invoicing opportunity')`,
            run: "press Enter",
        },
        {
            content: "a facet holds the search",
            trigger: `${BOARD} .o_searchview_facet:contains('Tour invoicing opportunity')`,
        },
        {
            content: "the board follows the search: the order is gone, the opportunity stays",
            trigger: `${BOARD}:not(:has(${CARD}[data-document-type='order'])) ${CARD}[data-document-type='opportunity']:contains('Tour invoicing opportunity')`,
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
