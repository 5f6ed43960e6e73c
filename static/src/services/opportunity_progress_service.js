/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";

/**
 * Live notifications of opportunity progress: when the stage, the probability level or
 * the won / lost state of an opportunity changes, the server sends
 * "crm_opportunity_management/progress" on the bus to its salesperson and followers;
 * this service shows it at once, with a button opening the opportunity.
 */
export const opportunityProgressService = {
    dependencies: ["bus_service", "notification", "action"],
    start(env, { bus_service, notification, action }) {
        bus_service.subscribe("crm_opportunity_management/progress", (payload) => {
            const type = { won: "success", lost: "warning" }[payload.state] || "info";
            const close = notification.add(payload.message, {
                title: payload.number ? `${payload.number} ${payload.name}` : payload.name,
                type,
                className: "o_crm_opportunity_management_progress",
                buttons: [
                    {
                        name: _t("Open"),
                        primary: true,
                        onClick: () => {
                            close();
                            action.doAction({
                                type: "ir.actions.act_window",
                                res_model: "crm.lead",
                                res_id: payload.lead_id,
                                views: [[false, "form"]],
                                target: "current",
                            });
                        },
                    },
                ],
            });
        });
        bus_service.start();
    },
};

registry.category("services").add("crm_opportunity_management.progress", opportunityProgressService);
