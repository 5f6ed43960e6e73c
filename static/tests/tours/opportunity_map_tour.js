/** @odoo-module **/

import { registry } from "@web/core/registry";

const MAP = ".o_crm_opportunity_management_map";
const POPUP = ".leaflet-popup .o_crm_opportunity_management_map_popup";

/**
 * The opportunity map: one marker per located contact, the search bar, the radius search,
 * the popup and its links. Data: see TestOpportunityMapTour in tests/test_map_tour.py
 * (Paris: 2 opportunities, Zagreb: 1, Bucharest: 1, a contact without coordinates: 1).
 */
registry.category("web_tour.tours").add("crm_opportunity_management_opportunity_map", {
    steps: () => [
        {
            content: "one marker per located contact",
            trigger: `${MAP}[data-marker-count='3'] .o_crm_opportunity_management_map_summary:contains('3 contacts, 4 opportunities')`,
        },
        {
            content: "the opportunity without coordinates is counted",
            trigger: `${MAP} .o_crm_opportunity_management_map_missing:contains('1 opportunity without coordinates')`,
        },
        {
            content: "a marker is labelled with its contact's number of opportunities",
            trigger: ".leaflet-marker-icon[title='Tour Map Paris'] .o_crm_opportunity_management_map_pin:contains('2')",
        },
        {
            content: "open the popup of Paris",
            trigger: ".leaflet-marker-icon[title='Tour Map Paris']",
            run: "click",
        },
        {
            content: "the popup shows the contact's quality and total value",
            trigger: `${POPUP}:contains('Tour Map Paris'):contains('Tour Strategic') .o_crm_opportunity_management_map_popup_amount:contains('1,500.00')`,
        },
        {
            content: "search near Paris",
            trigger: `${POPUP} .o_crm_opportunity_management_map_nearby`,
            run: "click",
        },
        {
            content: "only Paris is within 50 km of Paris",
            trigger: `${MAP}[data-marker-count='1'] .o_crm_opportunity_management_map_radius_info:contains('Tour Map Paris')`,
        },
        {
            content: "an invalid radius is refused",
            trigger: ".o_crm_opportunity_management_map_radius",
            run: "edit -3 && press Enter",
        },
        {
            content: "with a message",
            trigger: ".o_notification:contains('The radius must be a number of km')",
        },
        {
            content: "clear the radius search",
            trigger: ".o_crm_opportunity_management_map_clear",
            run: "click",
        },
        {
            content: "every contact is back",
            trigger: `${MAP}[data-marker-count='3']`,
        },
        {
            content: "open the popup of Paris again",
            trigger: ".leaflet-marker-icon[title='Tour Map Paris']",
            run: "click",
        },
        {
            content: "open its two opportunities",
            trigger: `${POPUP} .o_crm_opportunity_management_map_open:contains('Open its 2 opportunities')`,
            run: "click",
        },
        {
            content: "the list of its opportunities",
            trigger: ".o_list_view .o_data_row:contains('Tour Paris deal 2')",
        },
        {
            content: "back to the map",
            trigger: ".o_breadcrumb a:contains('Opportunity Map')",
            run: "click",
        },
        {
            content: "the map again, with every contact",
            trigger: `${MAP}[data-marker-count='3']`,
        },
        {
            content: "filter on a salesperson",
            trigger: ".o_searchview_input",
            run: "edit Tour Map Rep",
        },
        {
            content: "search the salesperson",
            trigger: ".o_searchview_autocomplete .o_menu_item:contains('Salesperson')",
            run: "click",
        },
        {
            content: "only the contacts of that salesperson's opportunities",
            trigger: `${MAP}[data-marker-count='2'] .o_crm_opportunity_management_map_summary:contains('2 contacts, 2 opportunities')`,
        },
        {
            content: "open the popup of Bucharest",
            trigger: ".leaflet-marker-icon[title='Tour Map Bucharest']",
            run: "click",
        },
        {
            content: "open its opportunity",
            trigger: `${POPUP}:contains('Tour Map Bucharest') .o_crm_opportunity_management_map_open:contains('Open the opportunity')`,
            run: "click",
        },
        {
            content: "the opportunity's form",
            trigger: ".o_form_view .o_breadcrumb .active:contains('Tour Bucharest deal')",
        },
    ],
});
