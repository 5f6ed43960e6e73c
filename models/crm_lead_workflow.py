from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

# Changes that users are told about live (bus) and that the chatter tracks.
# (a chosen level is written as its probability: see crm_lead._prepare_probability_vals)
NOTIFIED_FIELDS = {"stage_id", "probability", "active", "lost_reason_id"}
PROGRESS_KEY = "crm_opportunity_management.progress"
LEVEL_CHOSEN_KEY = "crm_opportunity_management.level_chosen"


class CrmLead(models.Model):
    """Workflow of opportunities: the stages of their type, the rules of each stage,
    the stage log, and live notifications of their progress."""

    _inherit = "crm.lead"

    stage_history_ids = fields.One2many(
        "crm.lead.stage.history", "lead_id", string="Workflow Log", readonly=True, copy=False
    )
    allowed_stage_ids = fields.Many2many(
        "crm.stage", compute="_compute_allowed_stage_ids",
        help="Stages the opportunity may be in: its type's workflow, else its team's stages.",
    )

    @api.depends("opportunity_type_id.stage_ids", "team_id")
    def _compute_allowed_stage_ids(self):
        team_stages = {}
        for lead in self:
            if lead.opportunity_type_id.stage_ids:
                lead.allowed_stage_ids = lead.opportunity_type_id.stage_ids
                continue
            if lead.team_id not in team_stages:
                team_stages[lead.team_id] = self.env["crm.stage"].search(
                    ["|", ("team_id", "=", False), ("team_id", "=", lead.team_id.id)]
                )
            lead.allowed_stage_ids = team_stages[lead.team_id]

    # ------------------------------------------------------------------ steps of create / write (crm_lead.py)

    def _check_stages_created_in(self, vals_list):
        """New opportunities given a stage may only be created in one their workflow allows."""
        for lead, vals in zip(self, vals_list, strict=True):
            if vals.get("stage_id"):
                lead._check_stage_transition(lead.stage_id, {}, entering_from=False)

    def _check_stage_change(self, vals):
        """The opportunities ``vals`` moves to another stage, once their workflow allowed it."""
        if "stage_id" not in vals:
            return self.browse()
        new_stage = self.env["crm.stage"].browse(vals["stage_id"])
        moving = self.filtered(lambda lead: lead.stage_id != new_stage)
        if not self.env.context.get("crm_workflow_bypass"):
            for lead in moving:
                lead._check_stage_transition(new_stage, vals, entering_from=lead.stage_id)
        return moving

    def _stage_probability(self, vals):
        """The probability these opportunities take on entering the stage of ``vals``
        (its default level), ``None`` when they keep theirs."""
        if not self or "stage_id" not in vals:
            return None
        return self._stage_default_probability(self.env["crm.stage"].browse(vals["stage_id"]), vals)

    def _group_by_stage_probability(self, vals_list):
        """``{probability: opportunities}`` of the new opportunities whose stage gives them
        its default level."""
        groups = {}
        for lead, vals in zip(self, vals_list, strict=True):
            percentage = self._stage_default_probability(lead.stage_id, vals)
            if percentage is not None:
                groups[percentage] = groups.get(percentage, self.browse()) | lead
        return groups

    @api.model
    def _stage_default_probability(self, stage, vals):
        """The percentage of ``stage``'s default level, unless ``vals`` gives a probability
        (a chosen level is one) or the stage is a won one."""
        level = stage.probability_level_id
        if not level or stage.is_won or "probability" in vals:
            return None
        return level.percentage

    def merge_opportunity(self, user_id=False, team_id=False, auto_unlink=True):
        # A merge keeps the most advanced opportunity's stage whatever the rules between
        # the stages of the merged ones: it is a clean-up, not a step of the negotiation.
        return super(CrmLead, self.with_context(crm_workflow_bypass=True)).merge_opportunity(
            user_id=user_id, team_id=team_id, auto_unlink=auto_unlink
        )

    # ------------------------------------------------------------------ group expand

    @api.model
    def _read_group_stage_ids(self, stages, domain):
        """On a board filtered on one opportunity type, the columns are its workflow:
        all of its stages, empty or not, and no other."""
        opportunity_type = self._opportunity_type_from_domain(domain)
        if opportunity_type and opportunity_type.stage_ids:
            return opportunity_type.stage_ids.sorted(lambda stage: (stage.sequence, stage.id))
        return super()._read_group_stage_ids(stages, domain)

    def _stage_find(self, team_id=False, domain=None, order="sequence, id", limit=1):
        """Opportunities of a type with a workflow find their stages in it, whatever
        their sales team (the workflow is the type's, not the team's)."""
        types = self.opportunity_type_id
        if len(types) == 1 and types.stage_ids:
            stages = self.env["crm.stage"].search(
                [("id", "in", types.stage_ids.ids), *(domain or [])], order=order, limit=limit
            )
            if stages:
                return stages
        return super()._stage_find(team_id=team_id, domain=domain, order=order, limit=limit)

    # ------------------------------------------------------------------ rules

    def _check_stage_transition(self, stage, vals, entering_from):
        """Raise a UserError naming the stage and what is wrong if this opportunity may
        not enter ``stage`` with ``vals`` about to be written."""
        self.ensure_one()
        problems = []
        if entering_from and entering_from.next_stage_ids and stage not in entering_from.next_stage_ids:
            problems.append(_(
                "it cannot go from %(from)s to %(to)s; allowed next stages: %(allowed)s",
                **{"from": entering_from.name, "to": stage.name,
                   "allowed": ", ".join(entering_from.next_stage_ids.mapped("name"))},
            ))
        opportunity_type = (
            self.env["crm.opportunity.type"].browse(vals["opportunity_type_id"])
            if "opportunity_type_id" in vals else self.opportunity_type_id
        )
        if opportunity_type.stage_ids and stage not in opportunity_type.stage_ids and not (
            stage.is_won and not opportunity_type.stage_ids.filtered("is_won")
        ):
            problems.append(_(
                "%(stage)s is not a stage of the workflow of %(type)s (%(stages)s)",
                stage=stage.name, type=opportunity_type.name,
                stages=", ".join(opportunity_type.stage_ids.sorted("sequence").mapped("name")),
            ))
        missing = [
            field.field_description for field in stage.required_field_ids
            if field.name in self._fields and not (vals[field.name] if field.name in vals else self[field.name])
        ]
        if missing:
            problems.append(_("these fields must be filled in first: %(fields)s", fields=", ".join(missing)))
        if problems:
            raise UserError(_(
                "The opportunity %(lead)s cannot enter the stage %(stage)s: %(problems)s.",
                lead=self.display_name, stage=stage.name, problems="; ".join(problems),
            ))

    def _schedule_stage_activities(self):
        """Schedule the activity plan of each opportunity's current stage (called by the
        automated action "Schedule the stage's activities on entry")."""
        today = fields.Date.context_today(self)
        for lead in self.filtered("stage_id.activity_plan_id"):
            for template in lead.stage_id.activity_plan_id.template_ids:
                responsible = template._determine_responsible(lead.user_id, lead)["responsible"]
                lead.activity_schedule(
                    activity_type_id=template.activity_type_id.id,
                    summary=template.summary,
                    note=template.note,
                    user_id=(responsible or lead.user_id or self.env.user).id,
                    date_deadline=template._get_date_deadline(today),
                )

    def _notify_team_leader_of_closing(self):
        """Tell the sales team leader that opportunities were won or lost (called by the
        automated actions "Notify the team leader ...")."""
        for lead in self.filtered(lambda lead: lead.team_id.user_id.partner_id):
            outcome = _("won") if lead.closing_state == "won" else _("lost")
            lead.message_notify(
                partner_ids=lead.team_id.user_id.partner_id.ids,
                subject=_("%(lead)s was %(outcome)s", lead=lead.display_name, outcome=outcome),
                body=_(
                    "%(user)s marked the opportunity %(lead)s (%(amount)s) as %(outcome)s.",
                    user=self.env.user.name, lead=lead.display_name, outcome=outcome,
                    amount=lead.company_currency.format(lead.amount_net_company),
                ),
                subtype_xmlid="mail.mt_note",
            )

    # ------------------------------------------------------------------ chatter and live notifications

    def _track_subtype(self, init_values):
        """A level someone chose (or a probability typed) is posted with its own subtype,
        which users follow or mute; a level that only moved with Odoo's predictive
        scoring is logged silently, as Odoo logs its probability."""
        self.ensure_one()
        subtype = super()._track_subtype(init_values)
        chosen = self.id in self.env.cr.precommit.data.get(LEVEL_CHOSEN_KEY, ())
        if not subtype and "probability_level_id" in init_values and chosen:
            return self.env.ref("crm_opportunity_management.mt_lead_probability_level")
        return subtype

    def _remember_progress(self, vals):
        """Keep, for the end of the transaction, where these opportunities stood before
        their first change in it: the live notifications are worked out and sent then,
        once per opportunity and transaction, for all of them together.

        The state is read from the database as last flushed (one query, and no pending
        recomputation forced: Odoo's predictive scoring is costly)."""
        if not NOTIFIED_FIELDS & set(vals):
            return
        if "probability" in vals:
            self.env.cr.precommit.data.setdefault(LEVEL_CHOSEN_KEY, set()).update(self.ids)
        pending = self.env.cr.precommit.data.setdefault(PROGRESS_KEY, {})
        if not pending:
            self.env.cr.precommit.add(self._send_progress_notifications)
        new_ids = [lead_id for lead_id in self.ids if lead_id not in pending]
        if not new_ids:
            return
        self.env.cr.execute(SQL(
            "SELECT id, stage_id, probability_level_id, %s FROM crm_lead WHERE id = ANY(%s)",
            self._closing_state_sql("crm_lead"), new_ids,
        ))
        for lead_id, stage_id, level_id, state in self.env.cr.fetchall():
            pending[lead_id] = (stage_id, level_id, state, self.env.uid)

    def _send_progress_notifications(self):
        pending = self.env.cr.precommit.data.pop(PROGRESS_KEY, {})
        leads = self.with_context(active_test=False).browse(pending).exists()
        messages = []
        for lead in leads:
            stage_id, level_id, state, author_id = pending[lead.id]
            changes = lead._progress_changes(self.env["crm.stage"].browse(stage_id),
                                             self.env["crm.probability.level"].browse(level_id), state)
            if changes:
                messages.append((lead, changes, author_id))
        if not messages:
            return
        recipients = leads._progress_recipients()
        for lead, changes, author_id in messages:
            author = self.env["res.users"].browse(author_id)
            payload = {
                "lead_id": lead.id,
                "number": lead.number or "",
                "name": lead.name,
                "state": lead.closing_state,
                "changes": changes,
                "author": author.name,
                "message": _("%(lead)s: %(changes)s (by %(author)s)", lead=lead.display_name,
                             changes=", ".join(changes), author=author.name),
            }
            # Sent to the people following the opportunity; it needs no right on their partners.
            (recipients[lead.id] - author.partner_id).sudo()._bus_send("crm_opportunity_management/progress", payload)

    def _progress_changes(self, stage, level, state):
        """Human-readable changes since (stage, level, state), empty when none."""
        self.ensure_one()
        changes = []
        if self.stage_id != stage:
            changes.append(_("stage %(old)s → %(new)s", old=stage.name or "-", new=self.stage_id.name or "-"))
        if self.probability_level_id != level:
            changes.append(_(
                "probability level %(old)s → %(new)s",
                old=level.name or "-", new=self.probability_level_id.name or "-",
            ))
        if self.closing_state != state:
            changes.append({"won": _("won"), "lost": _("lost"), "open": _("reopened")}[self.closing_state])
        return changes

    def _progress_recipients(self):
        """Partners of the internal users to notify for each opportunity: its salesperson
        and its followers (one query for all); a follower only when he may read it — with
        "own documents only" rights he gets no word of someone else's opportunity."""
        self.env.cr.execute(SQL(
            """
            SELECT lead.id, users.id, users.partner_id, users.id = lead.user_id
              FROM crm_lead lead
              JOIN res_users users ON users.active AND NOT users.share
                                  AND (users.id = lead.user_id OR users.partner_id IN (
                                       SELECT follower.partner_id FROM mail_followers follower
                                        WHERE follower.res_model = 'crm.lead' AND follower.res_id = lead.id))
             WHERE lead.id = ANY(%s)
            """,
            list(self.ids),
        ))
        candidates = self.env.cr.fetchall()
        leads = self.with_context(active_test=False)
        # the salesperson reads his own opportunities; the rights of the other followers are checked
        readable = {
            user_id: set(leads.with_user(user_id)._filtered_access("read").ids)
            for user_id in {user_id for _lead_id, user_id, _partner_id, own in candidates if not own}
        }
        partners = {}
        for lead_id, user_id, partner_id, own in candidates:
            if own or lead_id in readable[user_id]:
                partners.setdefault(lead_id, set()).add(partner_id)
        return {lead.id: self.env["res.partner"].browse(sorted(partners.get(lead.id, ()))) for lead in self}

    # ------------------------------------------------------------------ helpers

    def _stage_positions(self):
        """``{lead: (its stage, when it entered it)}``, taken before a stage change."""
        if not self:
            return {}
        return {lead: (lead.stage_id, entered) for lead, entered in self._stage_entry_dates().items()}

    def _log_stage_changes(self, positions):
        """Log, for each of these opportunities, its entry into its current stage from its
        position before (``{lead: (stage, entered at)}``, see crm.lead.stage.history)."""
        History = self.env["crm.lead.stage.history"]
        changes = []
        for lead in self:
            stage, entered = positions[lead]
            changes.append((lead, stage, lead.stage_id, entered))
        # The log is written by the system for whoever moves the opportunity: salespeople
        # may read it, never write it.
        History.sudo().create(History._prepare_rows(changes, self.env["crm.lead.history"]._now()))

    def _stage_entry_dates(self):
        """When each opportunity entered its current stage: its last log row, else the
        stage update date Odoo keeps (opportunities older than the log); one query."""
        self.env.cr.execute(SQL(
            """SELECT lead.id, COALESCE((SELECT MAX(history.date) FROM crm_lead_stage_history history
                                          WHERE history.lead_id = lead.id),
                                        lead.date_last_stage_update, lead.create_date)
                 FROM crm_lead lead WHERE lead.id = ANY(%s)""",
            list(self.ids),
        ))
        dates = dict(self.env.cr.fetchall())
        return {lead: dates.get(lead.id) for lead in self}

    @api.model
    def _opportunity_type_from_domain(self, domain):
        """The opportunity type a domain restricts to, when it names exactly one."""
        type_ids = {
            right[0] if isinstance(right, (list, tuple)) and len(right) == 1 else right
            for left, operator, right in (term for term in domain or [] if isinstance(term, (list, tuple)))
            if left == "opportunity_type_id" and operator in ("=", "in")
        }
        type_ids = {value for value in type_ids if isinstance(value, int) and not isinstance(value, bool)}
        if len(type_ids) == 1:
            return self.env["crm.opportunity.type"].browse(type_ids.pop()).exists()
        return self.env["crm.opportunity.type"]
