/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { OpportunityMapArchParser } from "./opportunity_map_arch_parser";
import { OpportunityMapController } from "./opportunity_map_controller";
import { OpportunityMapModel } from "./opportunity_map_model";
import { OpportunityMapRenderer } from "./opportunity_map_renderer";

/**
 * View type ``opportunity_map`` (declared on ``ir.ui.view`` by models/ir_ui_view.py):
 * the opportunities of the search at their contact's coordinates, on Leaflet, loaded
 * lazily. Named apart from Enterprise's ``map`` and OCA's ``leaflet_map``.
 */
export const opportunityMapView = {
    type: "opportunity_map",
    display_name: _t("Map"),
    icon: "fa fa-map-marker",
    multiRecord: true,
    ArchParser: OpportunityMapArchParser,
    Controller: OpportunityMapController,
    Model: OpportunityMapModel,
    Renderer: OpportunityMapRenderer,
    // one marker per contact: grouping has no meaning here
    searchMenuTypes: ["filter", "favorite"],

    props: (genericProps, view) => ({
        ...genericProps,
        Model: view.Model,
        Renderer: view.Renderer,
        archInfo: new view.ArchParser().parse(genericProps.arch),
    }),
};

registry.category("views").add("opportunity_map", opportunityMapView);
