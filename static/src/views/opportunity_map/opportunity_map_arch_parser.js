/** @odoo-module **/

/** Radius (km) proposed in the radius search when the arch does not say. */
export const DEFAULT_RADIUS_KM = 50;
/** Distance (px) under which markercluster merges markers, Leaflet.markercluster's default. */
export const DEFAULT_CLUSTER_RADIUS = 80;

/**
 * Reads ``<opportunity_map string="…" default_radius_km="50" cluster_radius="80"/>``
 * (checked on the server by ``ir.ui.view._validate_tag_opportunity_map``).
 */
export class OpportunityMapArchParser {
    parse(xmlDoc) {
        const number = (name, fallback) => {
            const value = Number.parseFloat(xmlDoc.getAttribute(name));
            return Number.isFinite(value) && value >= 0 ? value : fallback;
        };
        return {
            defaultRadiusKm: number("default_radius_km", DEFAULT_RADIUS_KM) || DEFAULT_RADIUS_KM,
            clusterRadius: number("cluster_radius", DEFAULT_CLUSTER_RADIUS),
        };
    }
}
