/** @odoo-module **/

import { registry } from "@web/core/registry";

const SCREEN = ".o_crm_opportunity_management_forecast";
const ROW = ".o_crm_opportunity_management_forecast_row";
const COUNT = ".o_crm_opportunity_management_count";

/**
 * The sales forecast screen: scoped to the tour's team and from January 2027, the table
 * lists its months and the chart is drawn; by quarter, the first quarter holds three of
 * the four opportunities; the calibration says why its probabilities are used; with a
 * backtest, its scores appear; a row opens the quarter's opportunities, and coming back
 * the controls are as they were.
 * Data: see TestForecastUi in tests/test_forecast_ui.py.
 */
registry.category("web_tour.tours").add("crm_opportunity_management_forecast", {
    steps: () => [
        {
            content: "the forecast of every opportunity is drawn",
            trigger: `${SCREEN} .o_crm_opportunity_management_forecast_chart canvas`,
        },
        {
            content: "choose the sales team",
            trigger: `${SCREEN} [data-control=team_id] input`,
            run: "edit Forecast UI team",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Forecast UI team')",
            run: "click",
        },
        {
            content: "from January 2027",
            trigger: `${SCREEN} [data-control=date_from] input`,
            run: "edit 01/01/2027",
        },
        {
            content: "the months are listed: one opportunity expected in January",
            trigger: `${SCREEN} ${ROW}[data-period='2027-01'] ${COUNT}:contains('1')`,
        },
        {
            content: "by quarter",
            trigger: `${SCREEN} select[name=granularity]`,
            run: "select quarter",
        },
        {
            content: "the first quarter holds three opportunities, the second one",
            trigger: `${SCREEN} ${ROW}[data-period='2027-Q1'] ${COUNT}:contains('3')`,
        },
        {
            trigger: `${SCREEN} ${ROW}[data-period='2027-Q2'] ${COUNT}:contains('1')`,
        },
        {
            content: "the chart is drawn with the quarters",
            trigger: `${SCREEN} .o_crm_opportunity_management_forecast_chart canvas`,
            run: () => {
                const chart = Chart.getChart(document.querySelector(`${SCREEN} canvas`));
                if (chart.data.labels[0] !== "2027-Q1") {
                    throw new Error(`the chart starts with ${chart.data.labels[0]}, not 2027-Q1`);
                }
            },
        },
        {
            content: "the calibration says plainly why the stated probabilities are used",
            trigger: `${SCREEN} .o_crm_opportunity_management_forecast_calibration_message:contains('closed opportunities')`,
        },
        {
            content: "backtest two periods",
            trigger: `${SCREEN} input[name=backtest]`,
            run: "edit 2",
        },
        {
            content: "the backtest is shown",
            trigger: `${SCREEN} .o_crm_opportunity_management_forecast_backtest h4`,
        },
        {
            content: "open the opportunities of the first quarter",
            trigger: `${SCREEN} ${ROW}[data-period='2027-Q1']`,
            run: "click",
        },
        {
            content: "the quarter's opportunities are listed, not the one of April",
            trigger: ".o_list_view:not(:has(.o_data_row:contains('Forecast UI 3'))) .o_data_row:contains('Forecast UI 0')",
        },
        {
            content: "back to the forecast",
            trigger: ".o_breadcrumb .o_back_button:contains('Sales Forecast')",
            run: "click",
        },
        {
            content: "the controls are as they were: the team's quarters",
            trigger: `${SCREEN} ${ROW}[data-period='2027-Q1'] ${COUNT}:contains('3')`,
        },
    ],
});
