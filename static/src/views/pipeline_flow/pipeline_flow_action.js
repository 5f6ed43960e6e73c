/** @odoo-module **/

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { WithSearch } from "@web/search/with_search/with_search";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { PipelineFlow } from "@crm_opportunity_management/views/pipeline_flow/pipeline_flow";

/**
 * The props of ``WithSearch`` for a pipeline screen: Odoo's search model on ``crm.lead``
 * (search view chosen by the action's ``search_view_ref``; favourites bound to the
 * action), filters and favourites only: the screens do not group.
 */
export function pipelineSearchProps(props) {
    return {
        resModel: "crm.lead",
        context: props.action.context || {},
        globalState: props.globalState,
        searchViewId: false,
        loadIrFilters: true,
        searchMenuTypes: ["filter", "favorite"],
    };
}

/**
 * Client action ``crm_opportunity_management.pipeline_flow``: the search model drives the
 * pipeline flow as a view's controller is driven: its domain goes to
 * ``get_pipeline_flow(domain, options)``.
 */
export class PipelineFlowAction extends Component {
    static template = "crm_opportunity_management.PipelineFlowAction";
    static components = { WithSearch, PipelineFlow };
    static props = { ...standardActionServiceProps };

    setup() {
        // once: WithSearch reloads its search model whenever these props change
        this.withSearchProps = pipelineSearchProps(this.props);
    }
}

registry.category("actions").add("crm_opportunity_management.pipeline_flow", PipelineFlowAction);
