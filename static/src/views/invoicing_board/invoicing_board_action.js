/** @odoo-module **/

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { WithSearch } from "@web/search/with_search/with_search";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { InvoicingBoard } from "@crm_opportunity_management/views/invoicing_board/invoicing_board";

/** The model the board's search (facets, filters, favourites) applies to. */
export const INVOICING_BOARD_MODEL = "crm.invoicing.analysis";

/**
 * Client action ``crm_opportunity_management.invoicing_board``: Odoo's search model
 * (search view of ``crm.invoicing.analysis``, chosen by the action's ``search_view_ref``;
 * favourites bound to the action) drives the board, as a view's controller is driven:
 * its domain goes to ``get_board("invoicing", domain, options)``. No grouping: the board
 * is by month already.
 */
export class InvoicingBoardAction extends Component {
    static template = "crm_opportunity_management.InvoicingBoardAction";
    static components = { WithSearch, InvoicingBoard };
    static props = { ...standardActionServiceProps };

    setup() {
        // once: WithSearch reloads its search model whenever these props change
        this.withSearchProps = {
            resModel: INVOICING_BOARD_MODEL,
            context: this.props.action.context || {},
            globalState: this.props.globalState,
            searchViewId: false,
            loadIrFilters: true,
            searchMenuTypes: ["filter", "favorite"],
        };
    }
}

registry.category("actions").add("crm_opportunity_management.invoicing_board", InvoicingBoardAction);
