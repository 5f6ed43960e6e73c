/** @odoo-module **/

import { Component, onMounted, onPatched, onWillStart, onWillUnmount, useRef, useState } from "@odoo/owl";
import { loadCSS, loadJS } from "@web/core/assets";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { renderToElement, renderToString } from "@web/core/utils/render";
import { formatFloat, formatInteger, formatMonetary } from "@web/views/fields/formatters";
import { parseFloat } from "@web/views/fields/parsers";

const LIB = "/crm_opportunity_management/static/lib";
/** Drawn in place of a tile that cannot load (no network): the plain background shows. */
const TRANSPARENT_TILE = "data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7";
const MARKER_SIZE = [30, 38];
const MAX_ZOOM = 19;

/**
 * Leaflet and Leaflet.markercluster, vendored in static/lib and loaded on the first map
 * only (they are not in the backend bundle). A Leaflet another map module has already
 * loaded (Enterprise's ``web_map``, OCA's ``web_view_leaflet_map``) is kept: replacing
 * the global ``L`` would drop the plugins registered on it.
 */
export async function loadLeaflet() {
    await Promise.all([
        loadCSS(`${LIB}/leaflet/leaflet.css`),
        loadCSS(`${LIB}/leaflet.markercluster/MarkerCluster.css`),
        loadCSS(`${LIB}/leaflet.markercluster/MarkerCluster.Default.css`),
    ]);
    if (!window.L) {
        await loadJS(`${LIB}/leaflet/leaflet.js`);
    }
    if (!window.L.MarkerClusterGroup) {
        await loadJS(`${LIB}/leaflet.markercluster/leaflet.markercluster.js`);
    }
}

/** "3 contacts, 5 opportunities" */
function countsLabel(contacts, opportunities) {
    // each part translated on its own line: the extractor skips _t() nested in another's arguments
    const contactsLabel = contacts === 1 ? _t("1 contact") : _t("%s contacts", formatInteger(contacts));
    const opportunitiesLabel =
        opportunities === 1 ? _t("1 opportunity") : _t("%s opportunities", formatInteger(opportunities));
    return _t("%(contacts)s, %(opportunities)s", { contacts: contactsLabel, opportunities: opportunitiesLabel });
}

/**
 * The map itself: one marker per contact labelled with its number of opportunities,
 * clustered when zoomed out (a cluster shows the opportunities of its contacts), a popup
 * per contact, and the radius search ("Near me", "Nearby" a contact).
 */
export class OpportunityMapRenderer extends Component {
    static template = "crm_opportunity_management.OpportunityMapRenderer";
    static props = {
        model: Object,
        // data and radius as props too, so that a new search (same model) re-renders the map
        data: Object,
        radius: { type: [Object, { value: null }] },
        archInfo: Object,
        selectRecord: { type: Function, optional: true },
    };

    setup() {
        this.action = useService("action");
        this.notification = useService("notification");
        this.mapRef = useRef("map");
        this.state = useState({
            radiusInput: String(this.props.model.radius?.radiusKm ?? this.props.archInfo.defaultRadiusKm),
            locating: false,
        });
        this.markerIcons = new Map();
        this.clusterIcons = new Map();
        this.drawnData = null;
        this.drawnRadius = null;
        onWillStart(loadLeaflet);
        onMounted(() => {
            this.createMap();
            this.draw();
        });
        onPatched(() => this.draw());
        onWillUnmount(() => this.map.remove());
    }

    get data() {
        return this.props.data;
    }

    get radius() {
        return this.props.radius;
    }

    get summary() {
        if (!this.data.markers.length) {
            return _t("No opportunity on the map");
        }
        return countsLabel(this.data.markers.length, this.data.opportunityCount);
    }

    get missingLabel() {
        return this.data.missing === 1
            ? _t("1 opportunity without coordinates")
            : _t("%s opportunities without coordinates", formatInteger(this.data.missing));
    }

    // ------------------------------------------------------------------ map

    createMap() {
        const L = window.L;
        // maxZoom on the map itself: markercluster needs one, and without tiles none is set
        this.map = L.map(this.mapRef.el, { worldCopyJump: true, minZoom: 1, maxZoom: MAX_ZOOM });
        const { tile_url: tileUrl, tile_attribution: attribution } = this.props.model.settings;
        if (tileUrl) {
            L.tileLayer(tileUrl, { attribution, maxZoom: MAX_ZOOM, errorTileUrl: TRANSPARENT_TILE }).addTo(this.map);
        }
        // city-level positions of the offline geocoder come from GeoNames (CC BY 4.0)
        this.map.attributionControl.addAttribution(
            '<a href="https://www.geonames.org/" target="_blank" rel="noopener">GeoNames</a> (CC BY 4.0)'
        );
        this.map.setView([20, 0], 2);
    }

    /** Redraws the markers when the model holds new data (not on every patch). */
    draw() {
        if (this.drawnData === this.data && this.drawnRadius === this.radius) {
            return;
        }
        this.drawnData = this.data;
        this.drawnRadius = this.radius;
        const L = window.L;
        // A new group rather than clearLayers(): markers of a previous search that chunked
        // loading has not added yet would land in it after the clear.
        this.clusterGroup?.remove();
        this.clusterGroup = L.markerClusterGroup({
            // chunks keep the page responsive; no pause between them (default 50 ms each)
            chunkedLoading: true,
            chunkDelay: 0,
            maxClusterRadius: this.props.archInfo.clusterRadius,
            showCoverageOnHover: false,
            iconCreateFunction: (cluster) => this.clusterIcon(cluster),
        }).addTo(this.map);
        this.circle?.remove();
        this.circle = null;
        const markers = this.data.markers.map((data) => {
            const marker = L.marker([data.lat, data.lng], {
                icon: this.markerIcon(data.count),
                title: data.name,
                opportunityCount: data.count,
            });
            marker.bindPopup(() => this.renderPopup(data), { minWidth: 220, maxWidth: 320 });
            return marker;
        });
        // the final view first (no animation), so the markers are clustered once, for it
        if (this.radius) {
            this.circle = L.circle(this.radius.center, {
                radius: this.radius.radiusKm * 1000,
                className: "o_crm_opportunity_management_map_circle",
                interactive: false,
            }).addTo(this.map);
            this.map.fitBounds(this.circle.getBounds(), { padding: [20, 20], animate: false });
        } else if (markers.length) {
            const bounds = L.latLngBounds(this.data.markers.map((data) => [data.lat, data.lng]));
            this.map.fitBounds(bounds, { padding: [40, 40], maxZoom: 13, animate: false });
        }
        this.clusterGroup.addLayers(markers);
    }

    markerIcon(count) {
        if (!this.markerIcons.has(count)) {
            this.markerIcons.set(
                count,
                window.L.divIcon({
                    html: renderToString("crm_opportunity_management.OpportunityMapMarker", { count }),
                    className: "o_crm_opportunity_management_map_marker",
                    iconSize: MARKER_SIZE,
                    iconAnchor: [MARKER_SIZE[0] / 2, MARKER_SIZE[1]],
                    popupAnchor: [0, -MARKER_SIZE[1]],
                })
            );
        }
        return this.markerIcons.get(count);
    }

    /** A cluster shows how many opportunities its contacts have, coloured by size. */
    clusterIcon(cluster) {
        const contacts = cluster.getChildCount();
        const count = cluster.getAllChildMarkers().reduce((total, marker) => total + marker.options.opportunityCount, 0);
        const size = count < 10 ? "small" : count < 100 ? "medium" : "large";
        const key = `${count}/${contacts}`;
        if (!this.clusterIcons.has(key)) {
            this.clusterIcons.set(
                key,
                window.L.divIcon({
                    html: renderToString("crm_opportunity_management.OpportunityMapCluster", {
                        count,
                        title: countsLabel(contacts, count),
                    }),
                    className: `marker-cluster marker-cluster-${size} o_crm_opportunity_management_map_cluster`,
                    iconSize: [40, 40],
                })
            );
        }
        return this.clusterIcons.get(key);
    }

    renderPopup(data) {
        const popup = renderToElement("crm_opportunity_management.OpportunityMapPopup", {
            marker: data,
            amount: formatMonetary(data.amount, { currencyId: this.data.currencyId }),
            addressLines: (data.address || "").split("\n").filter((line) => line.trim()),
        });
        popup
            .querySelector(".o_crm_opportunity_management_map_open")
            .addEventListener("click", (ev) => {
                ev.preventDefault();
                this.openOpportunities(data);
            });
        popup
            .querySelector(".o_crm_opportunity_management_map_nearby")
            .addEventListener("click", () => this.searchNearby(data));
        return popup;
    }

    // ------------------------------------------------------------------ actions

    openOpportunities(data) {
        this.map.closePopup();
        if (data.lead_ids.length === 1 && this.props.selectRecord) {
            return this.props.selectRecord(data.lead_ids[0], { activeIds: data.lead_ids, force: true });
        }
        return this.action.doAction({
            type: "ir.actions.act_window",
            name: _t("Opportunities of %s", data.name),
            res_model: "crm.lead",
            views: [
                [false, "list"],
                [false, "form"],
            ],
            domain: [["id", "in", data.lead_ids]],
            context: {
                default_partner_id: data.partner_id,
                default_type: "opportunity",
                list_view_ref: "crm.crm_case_tree_view_oppor",
                form_view_ref: "crm.crm_lead_view_form",
            },
        });
    }

    searchNearby(data) {
        const radiusKm = this.readRadius();
        if (radiusKm !== null) {
            this.map.closePopup();
            this.applyRadius({ center: [data.lat, data.lng], radiusKm, label: data.name });
        }
    }

    onNearMe() {
        const radiusKm = this.readRadius();
        if (radiusKm === null) {
            return;
        }
        if (!navigator.geolocation) {
            this.notification.add(_t("This browser cannot tell where you are."), { type: "warning" });
            return;
        }
        this.state.locating = true;
        navigator.geolocation.getCurrentPosition(
            (position) => {
                this.state.locating = false;
                const { latitude, longitude } = position.coords;
                this.applyRadius({ center: [latitude, longitude], radiusKm, label: _t("your position") });
            },
            (error) => {
                this.state.locating = false;
                this.notification.add(
                    error.code === error.PERMISSION_DENIED
                        ? _t("Your position was not shared: allow this site to know your location to search near you.")
                        : _t("Your position could not be found."),
                    { type: "warning" }
                );
            },
            { timeout: 10000, maximumAge: 60000 }
        );
    }

    /** Enter or leaving the radius field: a new radius around the same centre. */
    onRadiusChange() {
        if (!this.radius) {
            return;
        }
        const radiusKm = this.readRadius();
        if (radiusKm !== null && radiusKm !== this.radius.radiusKm) {
            this.applyRadius({ ...this.radius, radiusKm });
        }
    }

    onClear() {
        this.props.model.setRadius(null);
    }

    applyRadius(radius) {
        this.state.radiusInput = String(radius.radiusKm);
        return this.props.model.setRadius(radius);
    }

    /** The radius typed in, in km, or null (with a message) when it is not a valid one. */
    readRadius() {
        let radiusKm;
        try {
            radiusKm = parseFloat(this.state.radiusInput);
        } catch {
            radiusKm = NaN;
        }
        // the server's limit (get_map_settings), checked here to answer without a request
        const maxRadiusKm = this.props.model.settings.max_radius_km;
        if (!(radiusKm > 0 && radiusKm <= maxRadiusKm)) {
            const maximum = formatFloat(maxRadiusKm, { trailingZeros: false });
            this.notification.add(_t("The radius must be a number of km greater than 0 and at most %s.", maximum), {
                type: "danger",
            });
            return null;
        }
        return radiusKm;
    }
}
