/** @odoo-module **/

import { registry } from "@web/core/registry";

/**
 * The stages board of one opportunity type: its workflow's columns; dragging a card to an
 * allowed stage moves it, dragging it to a forbidden one is refused with the reason.
 * Data: see TestStagesBoardTour in tests/test_board_tour.py.
 */
registry.category("web_tour.tours").add("crm_opportunity_management_stages_board", {
    steps: () => [
        {
            content: "choose the opportunity type of the workflow",
            trigger: ".o_search_panel_category_value header:contains('Tender (tour)')",
            run: "click",
        },
        {
            content: "the columns are the workflow's stages, empty ones included",
            trigger: ".o_kanban_group:eq(3) .o_column_title:contains('Tour Awarded')",
        },
        {
            content: "drag the opportunity to a stage the workflow forbids",
            trigger: ".o_kanban_group:eq(0) .o_kanban_record:contains('Tour opportunity')",
            run: "drag_and_drop(.o_kanban_group:eq(2))",
        },
        {
            content: "the move is refused, naming the stages",
            trigger: ".modal .modal-body:contains('Tour Announced to Tour Submitted')",
        },
        {
            content: "close the message",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "the card is back in its column",
            trigger: ".o_kanban_group:eq(0) .o_kanban_record:contains('Tour opportunity')",
        },
        {
            content: "drag the opportunity to the next stage",
            trigger: ".o_kanban_group:eq(0) .o_kanban_record:contains('Tour opportunity')",
            run: "drag_and_drop(.o_kanban_group:eq(1))",
        },
        {
            content: "the card moved",
            trigger: ".o_kanban_group:eq(1) .o_kanban_record:contains('Tour opportunity')",
        },
        {
            content: "the column header counts it",
            trigger: ".o_kanban_group:eq(1) .o_crm_opportunity_management_count:contains('1')",
        },
    ],
});
