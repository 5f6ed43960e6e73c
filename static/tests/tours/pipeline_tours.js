/** @odoo-module **/

import { registry } from "@web/core/registry";

const FLOW = ".o_crm_opportunity_management_pipeline_flow";
const TREND = ".o_crm_opportunity_management_pipeline_trend";
const ROW = ".o_crm_opportunity_management_pipeline_row";
const COUNT = ".o_crm_opportunity_management_count";

/**
 * Click a bar (a point) of the screen's chart, where Chart.js places it: as a user clicks
 * the canvas.
 */
function clickChart(screen, index) {
    const canvas = document.querySelector(`${screen} canvas`);
    const element = Chart.getChart(canvas).getDatasetMeta(0).data[index];
    const rect = canvas.getBoundingClientRect();
    const y = element.base === undefined ? element.y : (element.y + element.base) / 2;
    for (const type of ["mousemove", "click"]) {
        canvas.dispatchEvent(
            new MouseEvent(type, { clientX: rect.left + element.x, clientY: rect.top + y, bubbles: true })
        );
    }
}

/** Narrow a screen to the tour's opportunities: their name in the search bar. */
function searchSteps(screen, name) {
    return [
        {
            content: "search the tour's opportunities by name",
            trigger: `${screen} .o_searchview_input`,
            run: `edit ${name}`,
        },
        {
            content: "the search bar proposes to search the opportunities first: take it",
            trigger: `${screen} .o_searchview_autocomplete .o_menu_item.focus:contains('${name}')`,
            run: "press Enter",
        },
        {
            content: "a facet holds the search",
            trigger: `${screen} .o_searchview_facet:contains('${name}')`,
        },
    ];
}

/**
 * The pipeline flow: the waterfall of the current quarter is drawn; narrowed by the search
 * to the tour's two opportunities (created this quarter, one of them lost since), a bar
 * of the chart opens the created ones, and a row of the table the lost one (archived).
 * Data: see TestPipelineTours in tests/test_pipeline_tours.py.
 */
registry.category("web_tour.tours").add("crm_opportunity_management_pipeline_flow", {
    steps: () => [
        {
            content: "the waterfall is drawn",
            trigger: `${FLOW} .o_crm_opportunity_management_pipeline_chart canvas`,
        },
        {
            content: "the table lists the steps between the start and the end",
            trigger: `${FLOW} ${ROW}[data-key='start'] ~ ${ROW}[data-key='created'] ~ ${ROW}[data-key='lost'] ~ ${ROW}[data-key='end']`,
        },
        ...searchSteps(FLOW, "Tour flow"),
        {
            content: "the flow follows the search: two opportunities created",
            trigger: `${FLOW} ${ROW}[data-key='created'] ${COUNT}:contains('2')`,
        },
        {
            content: "one lost, none left at the end but the open one",
            trigger: `${FLOW} ${ROW}[data-key='lost'] ${COUNT}:contains('1')`,
        },
        {
            content: "click the 'Created' bar of the waterfall",
            trigger: `${FLOW} ${ROW}[data-key='end'] ${COUNT}:contains('1')`,
            run: () => clickChart(FLOW, 1),
        },
        {
            content: "the created opportunities are listed, the lost one too",
            trigger: ".o_list_view .o_data_row:contains('Tour flow lost')",
        },
        {
            trigger: ".o_list_view .o_data_row:contains('Tour flow open')",
        },
        {
            content: "back to the flow",
            trigger: ".o_breadcrumb .o_back_button:contains('Pipeline Flow')",
            run: "click",
        },
        {
            content: "the search is as it was",
            trigger: `${FLOW} .o_searchview_facet:contains('Tour flow')`,
        },
        {
            content: "click the 'Lost' row",
            trigger: `${FLOW} ${ROW}[data-key='lost']`,
            run: "click",
        },
        {
            content: "the lost opportunity opens, archived as it is",
            trigger: ".o_list_view:not(:has(.o_data_row:contains('Tour flow open'))) .o_data_row:contains('Tour flow lost')",
        },
    ],
});

/**
 * The pipeline trend: the weeks' pipeline is drawn and tabled; narrowed by the search to
 * the tour's opportunities, the last week holds the open one and the week two weeks ago
 * the one lost since; with 4 weeks shown, a point of the chart opens the open one, the
 * screen comes back with its 4 weeks, and a row opens the lost one (archived).
 * Data: see TestPipelineTours in tests/test_pipeline_tours.py.
 */
registry.category("web_tour.tours").add("crm_opportunity_management_pipeline_trend", {
    steps: () => [
        {
            content: "the weeks' pipeline is drawn",
            trigger: `${TREND} .o_crm_opportunity_management_pipeline_chart canvas`,
        },
        {
            content: "the table lists 13 weeks",
            trigger: `${TREND} tbody:has(${ROW}:nth-child(13)):not(:has(${ROW}:nth-child(14)))`,
        },
        ...searchSteps(TREND, "Tour trend"),
        {
            content: "the trend follows the search: the open opportunity in the last week",
            trigger: `${TREND} ${ROW}:last-child ${COUNT}:contains('1')`,
        },
        {
            content: "and the lost one two weeks ago, while it was open",
            trigger: `${TREND} ${ROW}:nth-last-child(3) .o_crm_opportunity_management_trend_pipeline:contains('2,500')`,
        },
        {
            content: "show 4 weeks",
            trigger: `${TREND} select[name='weeks']`,
            run: "select 4",
        },
        {
            content: "the table lists 4 weeks",
            trigger: `${TREND} tbody:has(${ROW}:nth-child(4)):not(:has(${ROW}:nth-child(5)))`,
        },
        {
            content: "click the last point of the chart",
            trigger: `${TREND} ${ROW}:last-child`,
            run: () => clickChart(TREND, 3),
        },
        {
            content: "the week's opportunities are listed",
            trigger: ".o_list_view:not(:has(.o_data_row:contains('Tour trend lost'))) .o_data_row:contains('Tour trend open')",
        },
        {
            content: "back to the trend",
            trigger: ".o_breadcrumb .o_back_button:contains('Pipeline Trend')",
            run: "click",
        },
        {
            content: "the controls are as they were: 4 weeks",
            trigger: `${TREND} tbody:has(${ROW}:nth-child(4)):not(:has(${ROW}:nth-child(5)))`,
        },
        {
            content: "click the row of two weeks ago",
            trigger: `${TREND} ${ROW}:nth-last-child(3)`,
            run: "click",
        },
        {
            content: "the opportunity lost since is listed, archived as it is",
            trigger: ".o_list_view:not(:has(.o_data_row:contains('Tour trend open'))) .o_data_row:contains('Tour trend lost')",
        },
    ],
});
