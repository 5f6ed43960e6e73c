/** @odoo-module **/

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { WithSearch } from "@web/search/with_search/with_search";
import { standardActionServiceProps } from "@web/webclient/actions/action_service";
import { pipelineSearchProps } from "@crm_opportunity_management/views/pipeline_flow/pipeline_flow_action";
import { PipelineTrend } from "@crm_opportunity_management/views/pipeline_trend/pipeline_trend";

/**
 * Client action ``crm_opportunity_management.pipeline_trend``: the search model on
 * ``crm.lead`` drives the pipeline trend; its domain goes to
 * ``get_pipeline_trend(domain, options)``.
 */
export class PipelineTrendAction extends Component {
    static template = "crm_opportunity_management.PipelineTrendAction";
    static components = { WithSearch, PipelineTrend };
    static props = { ...standardActionServiceProps };

    setup() {
        // once: WithSearch reloads its search model whenever these props change
        this.withSearchProps = pipelineSearchProps(this.props);
    }
}

registry.category("actions").add("crm_opportunity_management.pipeline_trend", PipelineTrendAction);
