/** @odoo-module **/

import { Component, onWillStart, useRef } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { useBus } from "@web/core/utils/hooks";
import { useModel } from "@web/model/model";
import { useSetupAction } from "@web/search/action_hook";
import { CogMenu } from "@web/search/cog_menu/cog_menu";
import { Layout } from "@web/search/layout";
import { SearchBar } from "@web/search/search_bar/search_bar";
import { useSearchBarToggler } from "@web/search/search_bar/search_bar_toggler";
import { standardViewProps } from "@web/views/standard_view_props";
import { loadLeaflet } from "./opportunity_map_renderer";

/**
 * The radius search an action asks for in its context (``opportunity_map_center``:
 * ``[lat, lng]``, ``opportunity_map_radius_km``, optional ``opportunity_map_label``),
 * e.g. the contact form's "Nearby opportunities" button; null when it asks none.
 */
export function radiusFromContext(context) {
    const center = context.opportunity_map_center;
    const radiusKm = Number(context.opportunity_map_radius_km);
    if (
        !Array.isArray(center) ||
        center.length !== 2 ||
        !center.every((value) => Number.isFinite(Number(value))) ||
        !(radiusKm > 0)
    ) {
        return null;
    }
    return {
        center: center.map(Number),
        radiusKm,
        label: context.opportunity_map_label || _t("the chosen place"),
    };
}

export class OpportunityMapController extends Component {
    static template = "crm_opportunity_management.OpportunityMapView";
    static components = { Layout, SearchBar, CogMenu };
    static props = {
        ...standardViewProps,
        Model: Function,
        Renderer: Function,
        archInfo: Object,
    };

    setup() {
        this.model = useModel(this.props.Model, {
            resModel: this.props.resModel,
            radius: this.props.state?.radius ?? radiusFromContext(this.props.context),
        });
        // the libraries load while the data does (the renderer finds them loaded)
        onWillStart(loadLeaflet);
        useBus(this.model.bus, "update", () => this.render(true));
        useSetupAction({
            rootRef: useRef("root"),
            getLocalState: () => ({ radius: this.model.radius }),
        });
        this.searchBarToggler = useSearchBarToggler();
    }
}
