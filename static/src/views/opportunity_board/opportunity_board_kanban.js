/** @odoo-module **/

import { registry } from "@web/core/registry";
import { kanbanView } from "@web/views/kanban/kanban_view";
import { KanbanHeader } from "@web/views/kanban/kanban_header";
import { KanbanRenderer } from "@web/views/kanban/kanban_renderer";

/**
 * Kanban of the opportunity boards (progress by level, stages by workflow): the column
 * header shows the label, the number of opportunities and their net total in company
 * currency (Odoo's kanban shows either the count or the total, not both).
 */
export class OpportunityBoardKanbanHeader extends KanbanHeader {
    static template = "crm_opportunity_management.OpportunityBoardKanbanHeader";
}

export class OpportunityBoardKanbanRenderer extends KanbanRenderer {
    static components = { ...KanbanRenderer.components, KanbanHeader: OpportunityBoardKanbanHeader };
}

export const opportunityBoardKanbanView = {
    ...kanbanView,
    Renderer: OpportunityBoardKanbanRenderer,
};

registry.category("views").add("crm_opportunity_management_board", opportunityBoardKanbanView);
