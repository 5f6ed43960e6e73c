/** @odoo-module **/

import { registry } from "@web/core/registry";

/** Open the forecast screen, scope it to a team, compute and read the periods. */
registry.category("web_tour.tours").add("crm_opportunity_management_forecast", {
    steps: () => [
        {
            content: "choose the sales team",
            trigger: ".o_field_widget[name=team_id] input",
            run: "edit Forecast UI team",
        },
        {
            trigger: ".dropdown-item:contains('Forecast UI team')",
            run: "click",
        },
        {
            content: "from January 2027",
            trigger: ".o_field_widget[name=date_from] input",
            run: "edit 01/01/2027",
        },
        {
            content: "compute",
            trigger: "button[name=action_compute]",
            run: "click",
        },
        {
            content: "the periods are listed",
            trigger: ".o_field_widget[name=line_ids] .o_data_row:contains('2027-01')",
        },
        {
            content: "the calibration tab",
            trigger: ".o_notebook .nav-link:contains('Calibration')",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name=brier]",
        },
    ],
});
