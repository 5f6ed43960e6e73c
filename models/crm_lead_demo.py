"""The demo company: ``LEAD_COUNT`` (600) opportunities over the last 24 months lived
through the module's own write paths with a clock that moves (see
``CrmLead._generate_demo_company``).

What a user finds in it, and the one bias built in on purpose: the salespeople state
probabilities the outcomes do not bear out, each in their own way, so that the forecast's
calibration and backtest find something real:

- *optimistic* (Lukas Huber, Ioana Popescu): every opportunity reaching its last open stage
  is put at "Negotiation" (75 %), and most at "Verbal agreement" (90 %) a week or two
  before closing, won or not — their 90 % win about half the time;
- *cautious* (Marko Novak): keeps "Qualified" (25 %) on his last stage, "Proposal" (50 %)
  on half the ones he wins — his low levels win more often than they say;
- *calibrated* (the others): 75 % and 90 % mostly on the opportunities they then win.

The true chance of winning depends on the type (renewals win most, tenders least) and on
the customer's contact quality; expected closing dates slip (pushed once or twice on
about half the opportunities), amounts are renegotiated, and won opportunities of the last
``DOCUMENT_MONTHS`` months turn into confirmed orders, posted invoices (most paid, some
partly) and a few credit notes. Renewals are agreed months ahead of the contract's end,
so the open pipeline reaches a year ahead.

How it is written fast enough to install: every opportunity is created by
``crm.lead.create``, in one batch per salesperson, and put at its creation time (Odoo dates
a creation by the transaction's clock, which does not move); then the clock moves one day at
a time, and each day's events are written kind by kind, one ``write`` per group of
opportunities given the same values (stage and level, level, expected closing, won or lost
with a reason, ...), with one flush a day under the context's ``crm_history_date``: the
pipeline history and the workflow log are written by the module itself, dated by the clock.
Account documents (invoices, payments, credit notes), which write nothing to the
opportunities, are made in batches after the clock with their own dates; notes and done
activities are posted in one batch at the end, dated by the clock.

Everything is drawn from ``random.Random(SEED)`` before anything is written, and placed
relative to the install day, whose start (UTC) is the clock's last moment: installs of the
same day give the same company, another day gives it shifted to that day.
"""

import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.tools import SQL

from .crm_lead_history import CRON_DRIFT

_logger = logging.getLogger(__name__)

SEED = 18_0_1
LEAD_COUNT = 600
MONTHS_BACK = 24
DEMO = "crm_opportunity_management"

# City-level positions (WGS 84) of the customers' towns: (country, city, zip, lat, lng)
CITIES = [
    ("HR", "Zagreb", "10000", 45.8150, 15.9819),
    ("HR", "Split", "21000", 43.5081, 16.4402),
    ("HR", "Rijeka", "51000", 45.3271, 14.4422),
    ("HR", "Osijek", "31000", 45.5550, 18.6955),
    ("HR", "Zadar", "23000", 44.1194, 15.2314),
    ("HR", "Varaždin", "42000", 46.3057, 16.3366),
    ("RO", "București", "010011", 44.4268, 26.1025),
    ("RO", "Cluj-Napoca", "400001", 46.7712, 23.6236),
    ("RO", "Timișoara", "300001", 45.7489, 21.2087),
    ("RO", "Iași", "700001", 47.1585, 27.6014),
    ("RO", "Brașov", "500001", 45.6579, 25.6012),
    ("RO", "Constanța", "900001", 44.1598, 28.6348),
    ("SI", "Ljubljana", "1000", 46.0569, 14.5058),
    ("SI", "Maribor", "2000", 46.5547, 15.6459),
    ("SI", "Celje", "3000", 46.2309, 15.2604),
    ("SI", "Koper", "6000", 45.5481, 13.7302),
    ("SI", "Kranj", "4000", 46.2389, 14.3556),
    ("AT", "Wien", "1010", 48.2082, 16.3738),
    ("AT", "Graz", "8010", 47.0707, 15.4395),
    ("AT", "Linz", "4020", 48.3069, 14.2858),
    ("AT", "Salzburg", "5020", 47.8095, 13.0550),
    ("AT", "Innsbruck", "6020", 47.2692, 11.4041),
    ("AT", "Klagenfurt", "9020", 46.6247, 14.3053),
    ("IT", "Milano", "20121", 45.4642, 9.1900),
    ("IT", "Torino", "10121", 45.0703, 7.6869),
    ("IT", "Trieste", "34121", 45.6495, 13.7768),
    ("IT", "Verona", "37121", 45.4384, 10.9916),
    ("IT", "Bologna", "40121", 44.4949, 11.3426),
    ("IT", "Padova", "35121", 45.4064, 11.8768),
    ("IT", "Udine", "33100", 46.0711, 13.2346),
    ("HU", "Budapest", "1051", 47.4979, 19.0402),
    ("HU", "Debrecen", "4024", 47.5316, 21.6273),
    ("HU", "Szeged", "6720", 46.2530, 20.1414),
    ("HU", "Pécs", "7621", 46.0727, 18.2323),
    ("HU", "Győr", "9021", 47.6875, 17.6504),
    ("DE", "München", "80331", 48.1351, 11.5820),
    ("DE", "Berlin", "10115", 52.5200, 13.4050),
    ("DE", "Stuttgart", "70173", 48.7758, 9.1829),
    ("DE", "Nürnberg", "90402", 49.4521, 11.0767),
    ("DE", "Frankfurt am Main", "60311", 50.1109, 8.6821),
    ("DE", "Hamburg", "20095", 53.5511, 9.9937),
    ("DE", "Leipzig", "04109", 51.3397, 12.3731),
]
STREETS = {
    "HR": ["Ilica", "Savska cesta", "Vukovarska ulica", "Ulica kralja Zvonimira", "Radnička cesta"],
    "RO": ["Strada Victoriei", "Bulevardul Unirii", "Strada Republicii", "Calea Dorobanților"],
    "SI": ["Slovenska cesta", "Tržaška cesta", "Celovška cesta", "Dunajska cesta"],
    "AT": ["Hauptstraße", "Mariahilfer Straße", "Landstraße", "Bahnhofstraße"],
    "IT": ["Via Roma", "Via Garibaldi", "Corso Italia", "Via Dante", "Viale Europa"],
    "HU": ["Rákóczi út", "Kossuth Lajos utca", "Petőfi Sándor utca", "Váci út"],
    "DE": ["Hauptstraße", "Bahnhofstraße", "Schillerstraße", "Goethestraße", "Industriestraße"],
}
LEGAL_FORMS = {
    "HR": ["d.o.o.", "d.d."],
    "RO": ["S.R.L.", "S.A."],
    "SI": ["d.o.o."],
    "AT": ["GmbH", "AG"],
    "IT": ["S.r.l.", "S.p.A."],
    "HU": ["Kft.", "Zrt."],
    "DE": ["GmbH", "AG", "GmbH & Co. KG"],
}
NAME_STEMS = [
    "Adria",
    "Danubia",
    "Alpina",
    "Panonia",
    "Nordwerk",
    "Technoform",
    "Mediterra",
    "Karst",
    "Vitalis",
    "Metalia",
    "Agrofin",
    "Elektra",
    "Logistik",
    "Termo",
    "Hidro",
    "Dravia",
    "Savus",
    "Carpatia",
    "Tisza",
    "Balaton",
    "Istra",
    "Brenner",
    "Tauern",
    "Rheinland",
    "Isar",
    "Po",
]
NAME_TAILS = [
    "Systems",
    "Energy",
    "Medical",
    "Foods",
    "Bau",
    "Trade",
    "Industries",
    "Automotive",
    "Pharma",
    "Retail",
    "Logistics",
    "Tech",
    "Group",
    "Holding",
    "Print",
    "Textil",
]
FIRST_NAMES = {
    "HR": ["Ivana", "Marija", "Tomislav", "Josip", "Petra"],
    "RO": ["Andrei", "Elena", "Mihai", "Ana", "Radu"],
    "SI": ["Luka", "Nina", "Matej", "Eva", "Jure"],
    "AT": ["Florian", "Katharina", "Stefan", "Julia"],
    "IT": ["Giulia", "Marco", "Francesca", "Luca", "Chiara"],
    "HU": ["Zoltán", "Eszter", "Péter", "Anna"],
    "DE": ["Jonas", "Lena", "Felix", "Sarah", "Tobias"],
}
LAST_NAMES = {
    "HR": ["Kovačević", "Babić", "Marić", "Jurić"],
    "RO": ["Ionescu", "Dumitru", "Stan", "Georgescu"],
    "SI": ["Kovač", "Krajnc", "Zupan", "Potočnik"],
    "AT": ["Gruber", "Wagner", "Pichler", "Steiner"],
    "IT": ["Rossi", "Bianchi", "Ferrari", "Esposito"],
    "HU": ["Kovács", "Tóth", "Szabó", "Horváth"],
    "DE": ["Müller", "Schmidt", "Weber", "Becker"],
}
# salesperson xml id -> (their countries, style of stated probabilities: see the module docstring)
SALESPEOPLE = {
    "user_ana_horvat_demo": (("HR", "IT"), "calibrated"),
    "user_marko_novak_demo": (("SI", "IT"), "cautious"),
    "user_ioana_popescu_demo": (("RO",), "optimistic"),
    "user_gabor_nagy_demo": (("HU", "RO"), "calibrated"),
    "user_lukas_huber_demo": (("AT",), "optimistic"),
    "user_sophie_keller_demo": (("DE", "AT"), "calibrated"),
}
# type -> (share of the opportunities, true chance to win, mean days per stage, typical amount)
TYPES = {
    "crm_opportunity_type_new_business": (0.38, 0.30, 22, 24000),
    "crm_opportunity_type_upsell": (0.25, 0.50, 16, 11000),
    "crm_opportunity_type_renewal": (0.19, 0.72, 16, 16000),
    "crm_opportunity_type_tender": (0.18, 0.24, 30, 70000),
}
QUALITIES = {  # contact quality -> (share of customers, factor on the chance to win)
    "crm_contact_quality_strategic": (0.15, 1.3),
    "crm_contact_quality_regular": (0.35, 1.1),
    "crm_contact_quality_occasional": (0.30, 0.9),
    "crm_contact_quality_prospect": (0.20, 0.7),
}
FAMILIES = ["hardware", "software", "services", "maintenance"]
SUBJECTS = [
    "Network upgrade",
    "ERP roll-out",
    "Warehouse scanners",
    "Cloud migration",
    "Maintenance contract",
    "Training programme",
    "Data centre refresh",
    "POS terminals",
    "Security audit",
    "CRM licences",
    "Field service tablets",
    "Backup solution",
    "Video-conference rooms",
    "Printer fleet",
    "Support renewal",
    "Plant monitoring",
    "E-invoicing integration",
    "Fleet telematics",
]
NOTES = [
    "Call with the buyer: budget confirmed for this year.",
    "Sent the product sheet and references.",
    "Demo on site went well; IT wants a second session.",
    "Customer compares us with two competitors.",
    "Procurement asks for a revised price.",
    "Technical questions answered by e-mail.",
    "Decision postponed to the next board meeting.",
    "Met the CFO: payment terms are the open point.",
]
LEVEL = "crm_probability_level_%d"
TICK_HOUR = 17  # UTC: the events of a day are written at this hour (its business done)
# orders and invoices for the opportunities decided in the last months only (they take
# most of the generation's time); older won opportunities stay without documents
DOCUMENT_MONTHS = 9
# the order in which a day's events are written (an opportunity's events of one day keep it)
KINDS = ("create", "stage", "level", "push", "amount", "note", "activity", "won", "lost", "review", "plan")
# events of sales and account documents: made after the clock, with their own dates, as
# they write nothing to the opportunities (``_documents``)
DOCUMENT_KINDS = ("quotation", "confirm", "cancel", "invoice", "payment", "refund")


@dataclass(eq=False)
class Life:
    """The planned life of one opportunity: its values at creation and its events; the
    ids of what was written for it (records are not kept across the clock's days)."""

    index: int
    created: datetime
    vals: dict
    user: int
    family: str  # of the quotation's product when the opportunity has no detail lines
    events: list = field(default_factory=list)  # [(when, kind, payload)]
    lead_id: int = None
    order_id: int = None
    invoice_id: int = None


class CrmLead(models.Model):
    _inherit = "crm.lead"

    @api.model
    def _generate_demo_company(self, seed=SEED, count=LEAD_COUNT):
        """Build the demo company (called by the demo data): customers, then each planned
        event of every opportunity in the order of the clock, written through the ORM with
        ``crm_history_date`` set, so the history, the workflow log, the chatter, orders
        and invoices carry the clock's dates (module docstring)."""
        started, cpu = time.monotonic(), time.process_time()
        # the clock stops at the start of the install's day (UTC): installs of one day agree to the second
        today = fields.Datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
        generator = _DemoCompany(self.env, random.Random(seed), today)
        generator.build(count)
        _logger.info(
            "demo company: %d opportunities generated in %.1f s (%.1f s of it this process's CPU time)",
            count,
            time.monotonic() - started,
            time.process_time() - cpu,
        )

    @api.model
    def _remove_demo_company(self):
        """At uninstall, what ``_generate_demo_company`` made without an xml id — the demo
        salespeople's opportunities, orders, invoices and their payments — so that Odoo can
        then remove the demo data they use (stages, products, categories, the salespeople)."""
        data = self.env["ir.model.data"].sudo().search(
            [("module", "=", "crm_opportunity_management"), ("model", "in", ("res.users", "product.product"))]
        )
        salespeople = self.env["res.users"].browse(data.filtered(lambda row: row.model == "res.users").mapped("res_id"))
        products = self.env["product.product"].browse(
            data.filtered(lambda row: row.model == "product.product").mapped("res_id")
        )
        salespeople, products = salespeople.exists(), products.exists()
        if not salespeople:
            return
        # the credit notes are the system's (no salesperson): found by the demo products
        moves = self.env["account.move"].search(
            ["|", ("invoice_user_id", "in", salespeople.ids), ("line_ids.product_id", "in", products.ids)]
        )
        payments = self.env["account.payment"].search([("partner_id", "in", moves.commercial_partner_id.ids)])
        payments.filtered(lambda payment: payment.state != "draft").action_draft()
        payments.unlink()
        moves.filtered(lambda move: move.state != "draft").button_draft()
        moves.with_context(force_delete=True).unlink()
        orders = self.env["sale.order"].search([("user_id", "in", salespeople.ids)])
        orders.filtered(lambda order: order.state != "cancel")._action_cancel()
        orders.unlink()
        self.with_context(active_test=False).search([("user_id", "in", salespeople.ids)]).unlink()


class _DemoCompany:
    def __init__(self, env, rng, now):
        # history recording is off while modules install, unless seeding asks for it; the
        # chatter's tracking is off (the history and the workflow log keep the changes): the
        # generator logs its notes and done activities itself, dated by the clock
        self.env = env(
            context=dict(
                env.context, crm_history_seeding=True, tracking_disable=True, mail_create_nolog=True, mail_notrack=True
            )
        )
        self.messages = []
        self.refs = {}
        self.rng = rng
        self.now = now
        self.start = now - relativedelta(months=MONTHS_BACK)

    def ref(self, xmlid):
        # looked up once: creating records of the module's configuration clears Odoo's caches
        if xmlid not in self.refs:
            self.refs[xmlid] = self.env.ref(xmlid if "." in xmlid else f"{DEMO}.{xmlid}")
        return self.refs[xmlid]

    # ------------------------------------------------------------------ world

    def build(self, count):
        self.company = self.env.company
        self.eur = self.ref("base.EUR")
        self._currency_rates()
        self.users = {xmlid: self.ref(xmlid) for xmlid in SALESPEOPLE}
        self.partners = {user.id: user.partner_id.id for user in self.users.values()}
        self.customers = self._customers()
        self.products = {family: self.ref(f"product_product_{family}_demo") for family in FAMILIES}
        self.eur_pricelist = self.ref("product_pricelist_eur_demo")
        self.won_reasons = self.env["crm.won.reason"].search([], order="id")
        self.lost_reasons = self.env["crm.lost.reason"].search([], order="id")
        self.types = {xmlid: self.ref(xmlid) for xmlid in TYPES}
        self.teams = {
            user: self.env["crm.team"].search([("member_ids", "in", user.ids)], limit=1) for user in self.users.values()
        }
        self.styles = {self.users[xmlid]: style for xmlid, (_codes, style) in SALESPEOPLE.items()}
        self.quality_factors = {self.ref(xmlid): factor for xmlid, (_share, factor) in QUALITIES.items()}
        self.customer_turns = self.rng.sample(list(self.customers), len(self.customers))
        lives = [self._plan(index) for index in range(count)]
        self.deadlines = {life: fields.Date.to_date(life.vals["date_deadline"]) for life in lives}
        self.user_envs, self.created_ids, self.scored_month = {}, [], None
        # Odoo's predictive scoring learns from the opportunities created since this date
        self.env["ir.config_parameter"].sudo().set_param("crm.pls_start_date", str(self.start.date()))
        self._create_leads(lives)
        events = sorted(
            (
                (when, life.index, order, kind, payload, life)
                for life in lives
                for order, (when, kind, payload) in enumerate(life.events)
                if kind not in DOCUMENT_KINDS
            ),
            key=lambda event: event[:3],
        )
        for day, day_events in groupby(events, key=lambda event: event[0].date()):
            tick = min(datetime.combine(day, datetime.min.time()) + timedelta(hours=TICK_HOUR), self.now)
            self._tick(self.env(context=dict(self.env.context, crm_history_date=tick)), tick, list(day_events))
        self.user_envs = {}
        self._documents(lives)
        self._post_messages(lives)
        self._finish(lives)

    def _currency_rates(self):
        """A rate of the euro for each month of the demo's span (and the year ahead)."""
        Rate = self.env["res.currency.rate"]
        existing = set(
            Rate.search([("currency_id", "=", self.eur.id), ("company_id", "=", self.company.id)]).mapped("name")
        )
        rows, day = [], self.start.date().replace(day=1) - relativedelta(months=1)
        level = 0.93
        while day <= (self.now + relativedelta(months=12)).date():
            level = min(max(level + self.rng.gauss(0, 0.012), 0.86), 0.99)
            if day not in existing:
                rows.append(
                    {"name": day, "currency_id": self.eur.id, "company_id": self.company.id, "rate": round(level, 4)}
                )
            day += relativedelta(months=1)
        Rate.create(rows)

    def _customers(self):
        """About 100 companies and 50 of their people, in seven countries, located at city
        level with a little spread so that markers of one town do not sit on each other."""
        rng, Partner = self.rng, self.env["res.partner"]
        countries = {code: self.env["res.country"].search([("code", "=", code)], limit=1) for code in STREETS}
        qualities = [(self.ref(xmlid), share) for xmlid, (share, _factor) in QUALITIES.items()]
        names, values = set(), []
        while len(values) < 100:
            country, city, zip_code, lat, lng = rng.choice(CITIES)
            name = f"{rng.choice(NAME_STEMS)} {rng.choice(NAME_TAILS)} {rng.choice(LEGAL_FORMS[country])}"
            if name in names:
                continue
            names.add(name)
            quality = rng.choices([q for q, _s in qualities], [s for _q, s in qualities])[0]
            user = rng.choice([xmlid for xmlid, (codes, _style) in SALESPEOPLE.items() if country in codes])
            domain = name.split()[0].lower()
            values.append(
                {
                    "name": name,
                    "is_company": True,
                    "street": f"{rng.choice(STREETS[country])} {rng.randint(1, 180)}",
                    "zip": zip_code,
                    "city": city,
                    "country_id": countries[country].id,
                    "partner_latitude": round(lat + rng.uniform(-0.03, 0.03), 5),
                    "partner_longitude": round(lng + rng.uniform(-0.04, 0.04), 5),
                    "geocode_status": "ok",
                    "geocode_source": "offline",
                    "geocode_date": self.now,
                    "contact_quality_id": quality.id,
                    "user_id": self.users[user].id,
                    "email": f"info@{domain}.example.com",
                    "customer_rank": 1,
                }
            )
        companies = Partner.create(values)
        people = []
        for company in companies.filtered(lambda partner: rng.random() < 0.5):
            country = company.country_id.code
            first, last = rng.choice(FIRST_NAMES[country]), rng.choice(LAST_NAMES[country])
            people.append(
                {
                    "name": f"{first} {last}",
                    "parent_id": company.id,
                    "type": "contact",
                    "function": rng.choice(["Purchasing manager", "IT director", "CFO", "Operations manager", "CEO"]),
                    "email": f"{first.lower()}.{last.lower()}@{company.name.split()[0].lower()}.example.com",
                    "partner_latitude": company.partner_latitude,
                    "partner_longitude": company.partner_longitude,
                    "geocode_status": "ok",
                    "geocode_source": "offline",
                    "geocode_date": self.now,
                    "contact_quality_id": company.contact_quality_id.id,
                    "user_id": company.user_id.id,
                }
            )
        return companies | Partner.create(people)

    # ------------------------------------------------------------------ planning (no database)

    def _plan(self, index):
        rng = self.rng
        span = (self.now - self.start).total_seconds()
        created = self.start + timedelta(seconds=span * rng.random() ** 0.75)  # business grows
        created = min(
            created.replace(hour=rng.randint(6, 15), minute=rng.randint(0, 59), second=0), self.now - timedelta(hours=1)
        )
        type_xmlid = rng.choices(list(TYPES), [share for share, *_rest in TYPES.values()])[0]
        _share, chance, stage_days, typical = TYPES[type_xmlid]
        opportunity_type = self.types[type_xmlid]
        # every customer has opportunities: the first ones go to each in turn
        customer = self.customer_turns[index] if index < len(self.customer_turns) else rng.choice(self.customers)
        user = customer.user_id
        style = self.styles[user]
        chance = min(chance * self.quality_factors[customer.contact_quality_id], 0.92)
        stages = opportunity_type.stage_ids.sorted(lambda stage: (stage.sequence, stage.id))
        open_stages = stages.filtered(lambda stage: not stage.is_won)
        won = rng.random() < chance
        reached = len(open_stages) if won else rng.randint(1, len(open_stages))
        currency = self.eur if rng.random() < 0.75 else self.company.currency_id
        amount = max(round(typical * rng.lognormvariate(0, 0.6), -2), 500)
        with_lines = rng.random() < 0.65
        # the expected cycle; a renewal is negotiated ahead of the contract's end (up to a
        # year ahead); the real one is longer more often than not
        ahead = rng.randint(30, 300) if "renewal" in type_xmlid else 0
        cycle = stage_days * len(open_stages) * rng.uniform(0.8, 1.6) + ahead
        deadline = created + timedelta(days=cycle)
        mean_stay = cycle * rng.lognormvariate(0.1, 0.3) / len(open_stages)
        vals = {
            "name": f"{rng.choice(SUBJECTS)}, {customer.commercial_company_name or customer.name}",
            "type": "opportunity",
            "partner_id": customer.id,
            "user_id": user.id,
            "team_id": self.teams[user].id,
            "company_id": self.company.id,
            "opportunity_type_id": opportunity_type.id,
            "stage_id": open_stages[0].id,
            "probability_level_id": self._stage_level(open_stages, 0).id,
            "currency_id": currency.id,
            "date_deadline": deadline.date(),
            "expected_margin": round(amount * rng.uniform(0.12, 0.35), -1),
        }
        if with_lines:
            families = rng.sample(FAMILIES, rng.randint(1, 3))
            shares = [rng.uniform(0.5, 1.5) for _family in families]
            vals["line_ids"] = [
                Command.create(
                    {
                        "product_categ_id": self.products[family].categ_id.id,
                        "product_id": self.products[family].id,
                        "amount_gross": round(amount * share / sum(shares), -1),
                        "amount_discount": round(amount * share / sum(shares) * rng.choice([0, 0, 0.05, 0.1]), -1),
                        "date_expected_order": deadline.date(),
                        "date_expected_invoice": (deadline + timedelta(days=rng.randint(10, 45))).date(),
                    }
                )
                for family, share in zip(families, shares, strict=True)
            ]
        else:
            vals["expected_revenue"] = amount
            vals["date_expected_invoice"] = (deadline + timedelta(days=rng.randint(10, 45))).date()
        life = Life(index, created, vals, user.id, rng.choice(FAMILIES))
        events, when = life.events, created
        events.append((created, "create", None))
        if "new_business" in type_xmlid:  # unqualified until the first call with the customer
            vals["probability_level_id"] = self.ref(LEVEL % 0).id
        for position in range(reached):
            stay = max(rng.expovariate(1 / mean_stay), 1.0)
            if "tender" in type_xmlid and position == len(open_stages) - 1:
                stay *= 2.5  # the contracting authority takes months to evaluate the bids
            if position == 0 and "new_business" in type_xmlid:
                events.append((when + timedelta(days=stay * rng.uniform(0.1, 0.25)), "level", 10))
            for _note in range(rng.choice([0, 1, 1, 2])):
                events.append(
                    (when + timedelta(days=stay * rng.random(), hours=rng.random()), "note", rng.choice(NOTES))
                )
            if rng.random() < 0.3:
                events.append((when + timedelta(days=stay * rng.random()), "activity", None))
            if position == reached - 1:
                self._plan_last_stage(life, when, stay, won, style, deadline)
            when += timedelta(days=stay, hours=rng.uniform(-3, 3))
            if position + 1 < reached:
                stage = open_stages[position + 1]
                events.append((when, "stage", (stage.id, self._stage_level(open_stages, position + 1).id)))
                if stage == open_stages[-1] and rng.random() < 0.75:
                    if rng.random() < 0.35:
                        events.append((when, "amount", rng.uniform(0.8, 1.1)))
                    if when >= self.now - relativedelta(months=DOCUMENT_MONTHS):
                        events.append((when + timedelta(minutes=30), "quotation", None))
        if rng.random() < 0.45:  # the expected closing slips
            for _push in range(rng.choice([1, 1, 2])):
                events.append((created + (when - created) * rng.uniform(0.3, 0.95), "push", rng.randint(14, 60)))
        if won:
            events.append(
                (
                    when,
                    "won",
                    (
                        rng.choice(self.won_reasons).id,
                        rng.choice(
                            ["Signed after the final call.", "Order received.", "Chosen over two competitors.", ""]
                        )
                        or False,
                    ),
                )
            )
            events.append((when, "confirm", None))
            invoiced = when + timedelta(days=rng.randint(3, 30))
            events.append((invoiced, "invoice", None))
            roll = rng.random()
            if roll < 0.65:
                events.append((invoiced + timedelta(days=rng.randint(10, 60)), "payment", 1.0))
            elif roll < 0.8:
                events.append((invoiced + timedelta(days=rng.randint(10, 45)), "payment", rng.choice([0.3, 0.5])))
            elif roll < 0.9:
                events.append((invoiced + timedelta(days=rng.randint(5, 25)), "refund", rng.choice([0.1, 0.2])))
        else:
            events.append(
                (
                    when,
                    "lost",
                    (
                        rng.choice(self.lost_reasons).id,
                        rng.choice(["Budget cut.", "Went with a competitor.", ""]) or False,
                    ),
                )
            )
            events.append((when, "cancel", None))
        # what has not happened yet stays in the future: the opportunity is open today
        life.events = [event for event in events if event[0] <= self.now]
        if not any(kind in ("won", "lost") for _when, kind, _payload in life.events):
            reviewed = max(self.now - timedelta(days=rng.randint(1, 20)), created + timedelta(hours=1))
            life.events.append((reviewed, "review", rng.randint(10, 180)))
            life.events.append((self.now, "plan", rng.randint(-10, 20)))
        return life

    def _stage_level(self, open_stages, position):
        """The level an opportunity takes on entering the open stage at ``position``: the
        stage's own, else 10, 25, 50 % counted back from the workflow's last open stage."""
        stage = open_stages[position]
        percentage = (10, 25, 50)[max(position - len(open_stages) + 3, 0)]
        return stage.probability_level_id or self.ref(LEVEL % percentage)

    def _plan_last_stage(self, life, entered, stay, won, style, deadline):
        """The stated levels on the stage where the opportunity is decided (module docstring)."""
        rng, events = self.rng, life.events
        first, late = entered + timedelta(days=stay * 0.3), entered + timedelta(days=stay * 0.8)
        if style == "optimistic":
            events.append((first, "level", 75))
            if rng.random() < (0.85 if won else 0.6):
                events.append((late, "level", 90))
        elif style == "cautious":
            events.append((first, "level", 25 if not won or rng.random() < 0.5 else 50))
        else:
            if won or rng.random() < 0.2:
                events.append((first, "level", 75))
                if rng.random() < (0.6 if won else 0.1):
                    events.append((late, "level", 90))

    # ------------------------------------------------------------------ playing (through the ORM)

    def _user_env(self, env, user_id):
        """``env`` as the salesperson ``user_id`` (superuser rights: the demo writes for
        them); one environment per user and tick, none kept longer (Odoo looks environments
        up among the live ones: thousands would slow every ``with_context`` down)."""
        key = (env.context.get("crm_history_date"), user_id)
        if key not in self.user_envs:
            self.user_envs = {other: value for other, value in self.user_envs.items() if other[0] == key[0]}
            self.user_envs[key] = env(user=user_id, su=True)
        return self.user_envs[key]

    def _create_leads(self, lives):
        """Every opportunity created through ``crm.lead.create``, one batch per salesperson,
        before the clock starts: each is then put at its creation time (Odoo dates a
        creation by the transaction's clock, which does not move) and its history starts on
        that day (``_play_create``). Not recorded now: nothing is written to an opportunity
        before its creation day."""
        env = self.env(context=dict(self.env.context, crm_history_seeding=False))
        # numbers from the module's sequence in the order of creation, with its year
        sequence = self.env["ir.sequence"].search([("code", "=", "crm.lead.number")], limit=1)
        for life in sorted(lives, key=lambda life: (life.created, life.index)):
            life.vals["number"] = sequence.with_context(ir_sequence_date=life.created.date())._next()
        for user_id, user_lives in groupby(
            sorted(lives, key=lambda life: (life.user, life.index)), key=lambda life: life.user
        ):
            user_lives = list(user_lives)
            leads = self._user_env(env, user_id)["crm.lead"].create([life.vals for life in user_lives])
            for life, lead in zip(user_lives, leads, strict=True):
                life.lead_id = lead.id
        env.flush_all()
        ids, dates = [life.lead_id for life in lives], [life.created for life in lives]
        self.env.cr.execute(
            SQL(
                """UPDATE crm_lead lead SET create_date = created.at, date_open = created.at,
                      date_last_stage_update = created.at, date_conversion = created.at
                 FROM unnest(%(ids)s::int[], %(dates)s::timestamp[]) AS created(id, at)
                WHERE lead.id = created.id;
               UPDATE crm_lead_stage_history log SET date = created.at
                 FROM unnest(%(ids)s::int[], %(dates)s::timestamp[]) AS created(id, at)
                WHERE log.lead_id = created.id""",
                ids=ids,
                dates=dates,
            )
        )
        self.env.invalidate_all()

    def _tick(self, env, tick, day_events):
        """One day of the clock: the day's events kind by kind, each kind as one write per
        group of opportunities of one salesperson given the same values (an opportunity
        with two events of a kind in a day: in two rounds, in their order), one flush for
        the day, then the dates Odoo sets to its own clock put on the day's."""
        if (tick.year, tick.month) != self.scored_month:
            self.scored_month = (tick.year, tick.month)
            self._score(env)
        self.dated = defaultdict(list)
        by_kind = defaultdict(list)
        for _when, _index, _order, kind, payload, life in day_events:
            by_kind[kind].append((life, payload))
        for kind in KINDS:
            for round_ in self._rounds(by_kind.get(kind, ())):
                getattr(self, f"_play_{kind}")(env, tick, round_)
        env.flush_all()
        for name, ids in self.dated.items():
            self.env.cr.execute(SQL("UPDATE crm_lead SET %s = %s WHERE id = ANY(%s)", SQL.identifier(name), tick, ids))
        if self.dated:
            self.env["crm.lead"].invalidate_model(list(self.dated))

    @staticmethod
    def _rounds(events):
        """``[(life, payload)]`` split into rounds holding each opportunity once."""
        rounds = []
        for life, payload in events:
            round_ = next((round_ for round_ in rounds if life not in round_), None)
            if round_ is None:
                rounds.append(round_ := {})
            round_[life] = payload
        return rounds

    def _groups(self, env, round_, key=None):
        """``[(value, leads)]``: the round's opportunities grouped by salesperson and the
        value ``key(payload)`` (the payload itself by default), as their salesperson."""
        groups = defaultdict(list)
        for life, payload in round_.items():
            groups[(life.user, payload if key is None else key(life, payload))].append(life.lead_id)
        return [
            (value, self._user_env(env, user_id)["crm.lead"].browse(ids)) for (user_id, value), ids in groups.items()
        ]

    def _play_create(self, env, when, round_):
        """The creation row of each opportunity's history, at its creation time (before
        the day's tick: opportunities are created during business hours)."""
        for life in round_:
            env["crm.lead.history"]._record([life.lead_id], date=life.created)
            self.created_ids.append(life.lead_id)

    def _score(self, env):
        """Odoo's predictive lead scoring as its nightly cron leaves it, on the first day
        of each month: the frequencies rebuilt from the opportunities closed so far, the
        automated probability of the open ones updated in SQL as the cron does (without its
        commits; the probability stays the one the salesperson stated), and the rows the
        history keeps of a scoring run (``_record_scoring``), for the created ones only."""
        Lead = env["crm.lead"]
        Lead._rebuild_pls_frequency_table()
        open_leads = Lead.browse(self.created_ids).filtered(lambda lead: lead.closing_state == "open")
        scores = open_leads._pls_get_naive_bayes_probabilities(batch_mode=True)
        if scores:
            env.cr.execute(
                SQL(
                    """UPDATE crm_lead lead SET automated_probability = score.probability
                     FROM unnest(%s::int[], %s::float[]) AS score(id, probability) WHERE lead.id = score.id""",
                    list(scores),
                    list(scores.values()),
                )
            )
            Lead.invalidate_model(["automated_probability"])
        env["crm.lead.history"]._record(self.created_ids, changed_by=env.uid, drift=CRON_DRIFT)

    def _play_note(self, env, when, round_):
        for life, body in round_.items():
            self._log(life, when, body)

    def _play_activity(self, env, when, round_):
        for life in round_:
            self._log(life, when, "Follow-up call: done.", activity_type=self.ref("mail.mail_activity_data_call"))

    def _log(self, life, when, body, activity_type=None):
        """A note (or a done activity) of the salesperson on the opportunity, at ``when``."""
        self.messages.append(
            {
                "model": "crm.lead",
                "res_id": life.lead_id,
                "body": body,
                "date": when,
                "message_type": "comment" if not activity_type else "notification",
                "subtype_id": self.ref("mail.mt_note" if not activity_type else "mail.mt_activities").id,
                "author_id": self.partners[life.user],
                "mail_activity_type_id": activity_type.id if activity_type else False,
            }
        )

    def _play_stage(self, env, when, round_):
        for (stage_id, level_id), leads in self._groups(env, round_):
            planned = leads.activity_ids
            leads.write({"stage_id": stage_id, "probability_level_id": level_id})
            self.dated["date_last_stage_update"] += leads.ids
            # the stage's plan: due dates counted from the clock's day, not the install's
            today = fields.Date.context_today(leads)
            for activity in leads.activity_ids - planned:
                activity.date_deadline = when.date() + (activity.date_deadline - today)

    def _play_level(self, env, when, round_):
        for percentage, leads in self._groups(env, round_):
            leads.probability_level_id = self.ref(LEVEL % percentage).id

    def _play_push(self, env, when, round_):
        pushed = {life: max(self.deadlines[life], when.date()) + timedelta(days=days) for life, days in round_.items()}
        self.deadlines.update(pushed)
        for deadline, leads in self._groups(env, pushed):
            leads.date_deadline = deadline

    def _play_review(self, env, when, round_):
        """An open opportunity whose expected closing has passed is given a new one."""
        late = {
            life: when.date() + timedelta(days=days)
            for life, days in round_.items()
            if self.deadlines[life] < when.date()
        }
        self.deadlines.update(late)
        for deadline, leads in self._groups(env, late):
            leads.date_deadline = deadline

    def _play_amount(self, env, when, round_):
        for life, factor in round_.items():
            lead = self._user_env(env, life.user)["crm.lead"].browse(life.lead_id)
            if lead.line_ids:
                for line in lead.line_ids:
                    gross = round(line.amount_gross * factor, -1)
                    line.write({"amount_gross": gross, "amount_discount": min(line.amount_discount, gross)})
            else:
                lead.expected_revenue = round(lead.expected_revenue * factor, -2)

    def _play_won(self, env, when, round_):
        for (reason_id, description), leads in self._groups(env, round_):
            leads.write({"won_reason_id": reason_id, "close_description": description})
            leads.action_set_won()
            self.dated["date_closed"] += leads.ids
            self.dated["date_last_stage_update"] += leads.ids
        self._close_activities(env, when, round_)

    def _play_lost(self, env, when, round_):
        for (reason_id, description), leads in self._groups(env, round_):
            leads.action_set_lost(lost_reason_id=reason_id, close_description=description)
            self.dated["date_closed"] += leads.ids
        self._close_activities(env, when, round_)

    def _close_activities(self, env, when, round_):
        leads = env["crm.lead"].browse(life.lead_id for life in round_)
        lives = {life.lead_id: life for life in round_}
        for activity in leads.activity_ids:
            self._log(
                lives[activity.res_id],
                when,
                f"{activity.summary or activity.activity_type_id.name}: done.",
                activity_type=activity.activity_type_id,
            )
        leads.activity_ids.unlink()

    def _play_plan(self, env, when, round_):
        for deadline, leads in self._groups(env, round_, lambda life, days: (when + timedelta(days=days)).date()):
            leads.activity_schedule("mail.mail_activity_data_todo", summary="Next step", date_deadline=deadline)

    # ------------------------------------------------------------------ documents (after the clock)

    def _documents(self, lives):
        """Quotations, orders, invoices, payments and credit notes: they write nothing to the
        opportunities (an order's amount goes to its opportunity only when greater and in
        company currency, which the demo's never are), so they are made in batches once the
        clock has run, each with the dates of its events: one create per kind of document,
        one confirmation, one posting."""
        events = defaultdict(list)
        for life in lives:
            for when, kind, payload in life.events:
                if kind in DOCUMENT_KINDS:
                    events[kind].append((when, life, payload))
        for kind_events in events.values():
            kind_events.sort(key=lambda event: (event[0], event[1].index))
        self._quotations(events["quotation"])
        Order = self.env["sale.order"]
        confirmed = [(when, life) for when, life, _payload in events["confirm"] if life.order_id]
        Order.browse(life.order_id for _when, life in confirmed).action_confirm()
        for when, day_confirmed in groupby(confirmed, key=lambda event: event[0]):
            Order.browse(life.order_id for _when, life in day_confirmed).date_order = when
        Order.browse(life.order_id for _when, life, _payload in events["cancel"] if life.order_id)._action_cancel()
        self._invoices([(when, life) for when, life, _payload in events["invoice"] if life.order_id])
        self._payments([(when, life, share) for when, life, share in events["payment"] if life.invoice_id])
        self._refunds([(when, life, share) for when, life, share in events["refund"] if life.invoice_id])

    def _quotations(self, quoted):
        """A quotation of each opportunity's lines (of its amount when it has none), dated
        by the clock (the day the opportunity entered its last open stage)."""
        Lead, values = self.env["crm.lead"], []
        for when, life, _payload in quoted:
            lead = Lead.browse(life.lead_id)
            order_lines = []
            for line in lead.line_ids or [None]:
                product = line.product_id if line else self.products[life.family]
                amount = line.amount_net if line else lead.amount_net
                order_lines.append(
                    Command.create(
                        {
                            "product_id": product.id,
                            "product_uom_qty": 1,
                            "price_unit": amount,
                            "tax_id": [Command.clear()],
                        }
                    )
                )
            values.append(
                {
                    "partner_id": lead.partner_id.id,
                    "opportunity_id": lead.id,
                    "user_id": life.user,
                    "team_id": lead.team_id.id,
                    "date_order": when,
                    "order_line": order_lines,
                    "origin": lead.number,
                    **({"pricelist_id": self.eur_pricelist.id} if lead.currency_id == self.eur else {}),
                }
            )
        for (_when, life, _payload), order in zip(quoted, self.env["sale.order"].create(values), strict=True):
            life.order_id = order.id

    def _invoices(self, invoiced):
        """One invoice per confirmed order, dated by the clock: the values Odoo's own
        invoicing of an order prepares (``_prepare_invoice``, ``_prepare_invoice_line``), in
        one create and one posting (``_create_invoices`` dates them all the same day)."""
        orders = self.env["sale.order"].browse(life.order_id for _when, life in invoiced)
        values = []
        for (when, _life), order in zip(invoiced, orders, strict=True):
            values.append(
                {
                    **order._prepare_invoice(),
                    "invoice_date": when.date(),
                    "invoice_line_ids": [
                        Command.create(line._prepare_invoice_line(sequence=sequence))
                        for sequence, line in enumerate(order._get_invoiceable_lines())
                    ],
                }
            )
        invoices = self.env["account.move"].with_context(default_move_type="out_invoice").create(values)
        invoices.action_post()
        for (_when, life), invoice in zip(invoiced, invoices, strict=True):
            life.invoice_id = invoice.id

    def _payments(self, paid):
        """One payment per event (the whole residual or a share of it), all posted together
        and each reconciled with its invoice in one plan, as the payment wizard does."""
        Move = self.env["account.move"]
        bank = self.env["account.journal"].search(
            [*self.env["account.journal"]._check_company_domain(self.company), ("type", "=", "bank")], limit=1
        )
        invoices = Move.browse(life.invoice_id for _when, life, _share in paid)
        payments = self.env["account.payment"].create(
            [
                {
                    "payment_type": "inbound",
                    "partner_type": "customer",
                    "partner_id": invoice.commercial_partner_id.id,
                    "amount": invoice.currency_id.round(invoice.amount_residual * share),
                    "currency_id": invoice.currency_id.id,
                    "date": when.date(),
                    "journal_id": bank.id,
                    "memo": invoice.name,
                    "invoice_ids": [Command.set(invoice.ids)],
                }
                for (when, _life, share), invoice in zip(paid, invoices, strict=True)
            ]
        )
        payments.action_post()
        plan = []
        for payment, invoice in zip(payments, invoices, strict=True):
            receivable = invoice.line_ids.filtered(lambda line: line.account_type == "asset_receivable")
            plan.append(
                (payment.move_id.line_ids + receivable).filtered(
                    lambda line, account=receivable.account_id: line.account_id == account and not line.reconciled
                )
            )
        self.env["account.move.line"]._reconcile_plan(plan)

    def _refunds(self, refunded):
        """Credit notes granting a share of the invoice back."""
        invoices = self.env["account.move"].browse(life.invoice_id for _when, life, _share in refunded)
        refunds = invoices._reverse_moves(
            [
                {"invoice_date": when.date(), "ref": f"Discount granted on {invoice.name}"}
                for (when, _life, _share), invoice in zip(refunded, invoices, strict=True)
            ]
        )
        for (_when, _life, share), refund in zip(refunded, refunds, strict=True):
            for line in refund.invoice_line_ids:
                line.price_unit = line.currency_id.round(line.price_unit * share)
        refunds.action_post()

    # ------------------------------------------------------------------ the chatter and the end

    def _post_messages(self, lives):
        """The notes and done activities, in one create (reply-to addresses asked once)."""
        reply_to = self.env["crm.lead"].browse(life.lead_id for life in lives)._notify_get_reply_to()
        for message in self.messages:
            message["reply_to"] = reply_to[message["res_id"]]
        self.env["mail.message"].create(self.messages)

    def _finish(self, lives):
        leads = self.env["crm.lead"].browse(life.lead_id for life in lives)
        self.env.invalidate_all()
        self.env.add_to_compute(leads._fields["day_open"], leads)
        self.env.add_to_compute(leads._fields["day_close"], leads)
        self.env.flush_all()
