/** @odoo-module **/

import { KeepLast } from "@web/core/utils/concurrency";
import { Model } from "@web/model/model";

/**
 * Data of the opportunity map: ``crm.lead.get_map_data`` for the search of the view,
 * restricted to the radius search when one is set, and the map settings (tiles, largest
 * radius; read once).
 */
export class OpportunityMapModel extends Model {
    setup(params) {
        this.resModel = params.resModel;
        /** ``{center: [lat, lng], radiusKm, label}`` or null */
        this.radius = params.radius || null;
        this.data = { markers: [], missing: 0, currencyId: false };
        this.settings = null;
        this.searchParams = null;
        this.keepLast = new KeepLast();
    }

    /**
     * @param {import("@web/search/search_model").SearchParams} searchParams
     */
    async load(searchParams) {
        this.searchParams = searchParams;
        const { context, domain } = searchParams;
        const options = this.radius ? { center: this.radius.center, radius_km: this.radius.radiusKm } : {};
        const [data, settings] = await this.keepLast.add(
            Promise.all([
                this.orm.call(this.resModel, "get_map_data", [], { domain, options, context }),
                this.settings || this.orm.call(this.resModel, "get_map_settings", [], { context }),
            ])
        );
        this.settings = settings;
        this.data = {
            markers: data.markers,
            missing: data.missing,
            currencyId: data.currency_id,
            opportunityCount: data.markers.reduce((total, marker) => total + marker.count, 0),
        };
    }

    /**
     * Sets (or clears, with null) the radius search and reloads.
     *
     * @param {{center: number[], radiusKm: number, label: string}|null} radius
     */
    async setRadius(radius) {
        const previous = this.radius;
        this.radius = radius;
        try {
            await this.load(this.searchParams);
        } catch (error) {
            this.radius = previous;
            throw error;
        }
        this.notify();
    }
}
