import inspect
import json

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError
from odoo.http import request

# The read methods of crm.lead an API key may call: each is @api.readonly (tested), so the
# route below, read-only as a whole, never needs the primary database.
API_METHODS = (
    "get_board",
    "get_map_data",
    "get_map_settings",
    "get_forecast",
    "get_pipeline_flow",
    "get_pipeline_trend",
)


class OpportunityApi(http.Controller):
    """JSON over HTTP for integrators, authenticated by an Odoo API key.

    ``POST /crm_opportunity_management/api/<method>`` with the method's arguments as a JSON
    object (``{"kind": "progress", "domain": [...], "options": {...}}``) answers the method's
    result as JSON, with the rights, language and time zone of the key's owner.

    A plain ``type="http"`` route rather than ``type="json"``: the body is the arguments and
    the answer is the result, without Odoo's JSON-RPC envelope, and errors have their HTTP
    status (4xx) where JSON-RPC answers 200 with an error object — what ``curl`` and
    ``requests`` users expect. ``readonly=True``: Odoo opens the request's cursor on the
    database replica (``db_replica_host``) when there is one, as it does for the web client's
    ``@api.readonly`` calls; Odoo's XML-RPC always uses the primary. ``csrf=False``: a bearer
    request carries its key in a header no other site can make a browser send, and the
    session fallback of ``auth="bearer"`` requires the browser's same-origin navigation
    headers.
    """

    @http.route(
        "/crm_opportunity_management/api/<string:method>",
        type="http",
        auth="bearer",
        methods=["POST"],
        csrf=False,
        readonly=True,
        save_session=False,
    )
    def call(self, method):
        # the key owner's language and time zone, as the web client's session has them
        Lead = request.env["crm.lead"].with_context(**request.env.user.context_get())
        if method not in API_METHODS:
            return self._error(
                404,
                Lead.env._(
                    "Unknown method %(method)s: use one of %(methods)s.",
                    method=method,
                    methods=", ".join(API_METHODS),
                ),
            )
        try:
            result = getattr(Lead, method)(**self._arguments(Lead, method))
        except AccessError as error:
            return self._error(403, error.args[0])
        except MissingError as error:
            return self._error(404, error.args[0])
        except UserError as error:
            return self._error(400, error.args[0])
        return request.make_json_response(result)

    def _arguments(self, Lead, method):
        """The method's keyword arguments from the request body (a JSON object; an empty
        body: none), checked against its signature; a ``UserError`` saying what is wrong
        otherwise."""
        _ = Lead.env._
        body = request.httprequest.get_data(as_text=True)
        try:
            arguments = json.loads(body) if body.strip() else {}
        except ValueError as error:
            raise UserError(_("The request body is not valid JSON (%(reason)s).", reason=error)) from error
        parameters = inspect.signature(getattr(Lead, method)).parameters
        if not isinstance(arguments, dict):
            raise UserError(
                _(
                    "The request body must be a JSON object of the arguments of %(method)s: %(arguments)s.",
                    method=method,
                    arguments=", ".join(parameters) or _("none"),
                )
            )
        unknown = [name for name in arguments if name not in parameters]
        if unknown:
            raise UserError(
                _(
                    "%(method)s takes no argument %(names)s; its arguments: %(arguments)s.",
                    method=method,
                    names=", ".join(unknown),
                    arguments=", ".join(parameters) or _("none"),
                )
            )
        missing = [
            name
            for name, parameter in parameters.items()
            if parameter.default is inspect.Parameter.empty and name not in arguments
        ]
        if missing:
            raise UserError(_("%(method)s needs the argument %(names)s.", method=method, names=", ".join(missing)))
        return arguments

    def _error(self, status, message):
        """A JSON error; whatever the call began is rolled back (nothing is half-written)."""
        request.env.cr.rollback()
        return request.make_json_response({"error": {"status": status, "message": message}}, status=status)
