"""The demo company: ``LEAD_COUNT`` opportunities (150 for now; the specification asks for
about 600, which needs the day's writes batched to install within 90 s) lived through the
module's own write paths with a clock that moves (see ``CrmLead._generate_demo_company``).

What a user finds in it, and the one bias built in on purpose: the salespeople state
probabilities the outcomes do not bear out, each in their own way, so that the forecast's
calibration and backtest find something real:

- *optimistic* (Lukas Huber, Ioana Popescu): every opportunity reaching the proposal stage
  is put at "Negotiation" (75 %), and most at "Verbal agreement" (90 %) a week or two
  before closing, won or not — their 90 % win about half the time;
- *cautious* (Marko Novak): keeps "Qualified" (25 %) on proposals, "Proposal" (50 %) on
  the ones he wins — his low levels win more often than they say;
- *calibrated* (the others): 75 % and 90 % mostly on the opportunities they then win.

The true chance of winning depends on the type (renewals win most, tenders least) and on
the customer's contact quality; expected closing dates slip (pushed once or twice on
about half the opportunities), amounts are renegotiated, and won opportunities turn into
confirmed orders, posted invoices (most paid, some partly) and a few credit notes.

Everything is drawn from ``random.Random(SEED)`` and placed relative to the install day:
the same seed gives the same company, shifted to the day it is installed.
"""

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from dateutil.relativedelta import relativedelta

from odoo import Command, api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

SEED = 18_0_1
LEAD_COUNT = 150
MONTHS_BACK = 24
DEMO = "crm_opportunity_management"

# City-level positions (WGS 84) of the customers' towns: (country, city, zip, lat, lng)
CITIES = [
    ("HR", "Zagreb", "10000", 45.8150, 15.9819), ("HR", "Split", "21000", 43.5081, 16.4402),
    ("HR", "Rijeka", "51000", 45.3271, 14.4422), ("HR", "Osijek", "31000", 45.5550, 18.6955),
    ("HR", "Zadar", "23000", 44.1194, 15.2314), ("HR", "Varaždin", "42000", 46.3057, 16.3366),
    ("RO", "București", "010011", 44.4268, 26.1025), ("RO", "Cluj-Napoca", "400001", 46.7712, 23.6236),
    ("RO", "Timișoara", "300001", 45.7489, 21.2087), ("RO", "Iași", "700001", 47.1585, 27.6014),
    ("RO", "Brașov", "500001", 45.6579, 25.6012), ("RO", "Constanța", "900001", 44.1598, 28.6348),
    ("SI", "Ljubljana", "1000", 46.0569, 14.5058), ("SI", "Maribor", "2000", 46.5547, 15.6459),
    ("SI", "Celje", "3000", 46.2309, 15.2604), ("SI", "Koper", "6000", 45.5481, 13.7302),
    ("SI", "Kranj", "4000", 46.2389, 14.3556),
    ("AT", "Wien", "1010", 48.2082, 16.3738), ("AT", "Graz", "8010", 47.0707, 15.4395),
    ("AT", "Linz", "4020", 48.3069, 14.2858), ("AT", "Salzburg", "5020", 47.8095, 13.0550),
    ("AT", "Innsbruck", "6020", 47.2692, 11.4041), ("AT", "Klagenfurt", "9020", 46.6247, 14.3053),
    ("IT", "Milano", "20121", 45.4642, 9.1900), ("IT", "Torino", "10121", 45.0703, 7.6869),
    ("IT", "Trieste", "34121", 45.6495, 13.7768), ("IT", "Verona", "37121", 45.4384, 10.9916),
    ("IT", "Bologna", "40121", 44.4949, 11.3426), ("IT", "Padova", "35121", 45.4064, 11.8768),
    ("IT", "Udine", "33100", 46.0711, 13.2346),
    ("HU", "Budapest", "1051", 47.4979, 19.0402), ("HU", "Debrecen", "4024", 47.5316, 21.6273),
    ("HU", "Szeged", "6720", 46.2530, 20.1414), ("HU", "Pécs", "7621", 46.0727, 18.2323),
    ("HU", "Győr", "9021", 47.6875, 17.6504),
    ("DE", "München", "80331", 48.1351, 11.5820), ("DE", "Berlin", "10115", 52.5200, 13.4050),
    ("DE", "Stuttgart", "70173", 48.7758, 9.1829), ("DE", "Nürnberg", "90402", 49.4521, 11.0767),
    ("DE", "Frankfurt am Main", "60311", 50.1109, 8.6821), ("DE", "Hamburg", "20095", 53.5511, 9.9937),
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
    "HR": ["d.o.o.", "d.d."], "RO": ["S.R.L.", "S.A."], "SI": ["d.o.o."], "AT": ["GmbH", "AG"],
    "IT": ["S.r.l.", "S.p.A."], "HU": ["Kft.", "Zrt."], "DE": ["GmbH", "AG", "GmbH & Co. KG"],
}
NAME_STEMS = ["Adria", "Danubia", "Alpina", "Panonia", "Nordwerk", "Technoform", "Mediterra", "Karst",
              "Vitalis", "Metalia", "Agrofin", "Elektra", "Logistik", "Termo", "Hidro", "Dravia", "Savus",
              "Carpatia", "Tisza", "Balaton", "Istra", "Brenner", "Tauern", "Rheinland", "Isar", "Po"]
NAME_TAILS = ["Systems", "Energy", "Medical", "Foods", "Bau", "Trade", "Industries", "Automotive",
              "Pharma", "Retail", "Logistics", "Tech", "Group", "Holding", "Print", "Textil"]
FIRST_NAMES = {
    "HR": ["Ivana", "Marija", "Tomislav", "Josip", "Petra"], "RO": ["Andrei", "Elena", "Mihai", "Ana", "Radu"],
    "SI": ["Luka", "Nina", "Matej", "Eva", "Jure"], "AT": ["Florian", "Katharina", "Stefan", "Julia"],
    "IT": ["Giulia", "Marco", "Francesca", "Luca", "Chiara"], "HU": ["Zoltán", "Eszter", "Péter", "Anna"],
    "DE": ["Jonas", "Lena", "Felix", "Sarah", "Tobias"],
}
LAST_NAMES = {
    "HR": ["Kovačević", "Babić", "Marić", "Jurić"], "RO": ["Ionescu", "Dumitru", "Stan", "Georgescu"],
    "SI": ["Kovač", "Krajnc", "Zupan", "Potočnik"], "AT": ["Gruber", "Wagner", "Pichler", "Steiner"],
    "IT": ["Rossi", "Bianchi", "Ferrari", "Esposito"], "HU": ["Kovács", "Tóth", "Szabó", "Horváth"],
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
    "crm_opportunity_type_new_business": (0.40, 0.30, 18, 24000),
    "crm_opportunity_type_upsell": (0.25, 0.50, 12, 11000),
    "crm_opportunity_type_renewal": (0.20, 0.72, 16, 16000),
    "crm_opportunity_type_tender": (0.15, 0.24, 24, 70000),
}
QUALITIES = {  # contact quality -> (share of customers, factor on the chance to win)
    "crm_contact_quality_strategic": (0.15, 1.3), "crm_contact_quality_regular": (0.35, 1.1),
    "crm_contact_quality_occasional": (0.30, 0.9), "crm_contact_quality_prospect": (0.20, 0.7),
}
FAMILIES = ["hardware", "software", "services", "maintenance"]
SUBJECTS = ["Network upgrade", "ERP roll-out", "Warehouse scanners", "Cloud migration", "Maintenance contract",
            "Training programme", "Data centre refresh", "POS terminals", "Security audit", "CRM licences",
            "Field service tablets", "Backup solution", "Video-conference rooms", "Printer fleet",
            "Support renewal", "Plant monitoring", "E-invoicing integration", "Fleet telematics"]
NOTES = ["Call with the buyer: budget confirmed for this year.", "Sent the product sheet and references.",
         "Demo on site went well; IT wants a second session.", "Customer compares us with two competitors.",
         "Procurement asks for a revised price.", "Technical questions answered by e-mail.",
         "Decision postponed to the next board meeting.", "Met the CFO: payment terms are the open point."]
LEVEL = "crm_probability_level_%d"
TICK_HOUR = 9  # UTC: the events of a day are written at this hour
# orders and invoices for the opportunities decided in the last months only (they take
# most of the generation's time); older won opportunities stay without documents
DOCUMENT_MONTHS = 9


@dataclass
class Life:
    """The planned life of one opportunity: its values at creation and its events."""

    index: int
    created: datetime
    vals: dict
    user: int
    events: list = field(default_factory=list)  # [(when, kind, payload)]
    lead: object = None
    order: object = None
    invoice: object = None


class CrmLead(models.Model):
    _inherit = "crm.lead"

    @api.model
    def _generate_demo_company(self, seed=SEED, count=LEAD_COUNT):
        """Build the demo company (called by the demo data): customers, then each planned
        event of every opportunity in the order of the clock, written through the ORM with
        ``crm_history_date`` set, so the history, the workflow log, the chatter, orders
        and invoices carry the clock's dates."""
        started = time.monotonic()
        generator = _DemoCompany(self.env, random.Random(seed), fields.Datetime.now().replace(microsecond=0))
        generator.build(count)
        _logger.info("demo company: %d opportunities generated in %.1f s", count, time.monotonic() - started)


class _DemoCompany:
    def __init__(self, env, rng, now):
        # history recording is off while modules install, unless seeding asks for it
        # history recording is off while modules install, unless seeding asks for it; the
        # chatter's tracking is off (the history and the workflow log keep the changes): the
        # generator logs its notes and done activities itself, dated by the clock
        self.env = env(context=dict(env.context, crm_history_seeding=True, tracking_disable=True,
                                    mail_create_nolog=True, mail_notrack=True))
        self.messages = []
        self.rng = rng
        self.now = now
        self.start = now - relativedelta(months=MONTHS_BACK)

    def ref(self, xmlid):
        return self.env.ref(xmlid if "." in xmlid else f"{DEMO}.{xmlid}")

    # ------------------------------------------------------------------ world

    def build(self, count):
        self.company = self.env.company
        self.eur = self.ref("base.EUR")
        self._currency_rates()
        self.users = {xmlid: self.ref(xmlid) for xmlid in SALESPEOPLE}
        self.customers = self._customers()
        self.products = {family: self.ref(f"product_product_{family}_demo") for family in FAMILIES}
        self.eur_pricelist = self.ref("product_pricelist_eur_demo")
        self.won_reasons = self.env["crm.won.reason"].search([])
        self.lost_reasons = self.env["crm.lost.reason"].search([])
        self.types = {xmlid: self.ref(xmlid) for xmlid in TYPES}
        self.teams = {user: self.env["crm.team"].search([("member_ids", "in", user.ids)], limit=1)
                      for user in self.users.values()}
        self.styles = {self.users[xmlid]: style for xmlid, (_codes, style) in SALESPEOPLE.items()}
        self.quality_factors = {self.ref(xmlid): factor for xmlid, (_share, factor) in QUALITIES.items()}
        lives = [self._plan(index) for index in range(count)]
        events = sorted(
            ((when, life.index, order, kind, payload, life)
             for life in lives for order, (when, kind, payload) in enumerate(life.events)),
            key=lambda event: event[:3],
        )
        # one tick of the clock a day: the day's events, then one flush dated that day
        for day, day_events in groupby(events, key=lambda event: event[0].date()):
            tick = datetime.combine(day, datetime.min.time()) + timedelta(hours=TICK_HOUR)
            env = self.env(context=dict(self.env.context, crm_history_date=min(tick, self.now)))
            for _when, _index, _order, kind, payload, life in day_events:
                self._play(env, min(tick, self.now), kind, payload, life)
            env.flush_all()
        self.env["mail.message"].create(self.messages)
        self._finish([life.lead for life in lives])

    def _currency_rates(self):
        """A rate of the euro for each month of the demo's span (and the year ahead)."""
        Rate = self.env["res.currency.rate"]
        existing = set(Rate.search([("currency_id", "=", self.eur.id), ("company_id", "=", self.company.id)])
                       .mapped("name"))
        rows, day = [], self.start.date().replace(day=1) - relativedelta(months=1)
        level = 0.93
        while day <= (self.now + relativedelta(months=12)).date():
            level = min(max(level + self.rng.gauss(0, 0.012), 0.86), 0.99)
            if day not in existing:
                rows.append({"name": day, "currency_id": self.eur.id, "company_id": self.company.id,
                             "rate": round(level, 4)})
            day += relativedelta(months=1)
        Rate.create(rows)

    def _customers(self):
        """About 100 companies and 50 of their people, in seven countries, located at city
        level with a little spread so that markers of one town do not sit on each other."""
        rng, Partner = self.rng, self.env["res.partner"]
        countries = {code: self.env["res.country"].search([("code", "=", code)], limit=1)
                     for code in STREETS}
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
            values.append({
                "name": name, "is_company": True, "street": f"{rng.choice(STREETS[country])} {rng.randint(1, 180)}",
                "zip": zip_code, "city": city, "country_id": countries[country].id,
                "partner_latitude": round(lat + rng.uniform(-0.03, 0.03), 5),
                "partner_longitude": round(lng + rng.uniform(-0.04, 0.04), 5),
                "geocode_status": "ok", "geocode_source": "offline", "geocode_date": self.now,
                "contact_quality_id": quality.id, "user_id": self.users[user].id,
                "email": f"info@{domain}.example.com", "customer_rank": 1,
            })
        companies = Partner.create(values)
        people = []
        for company in companies.filtered(lambda partner: rng.random() < 0.5):
            country = company.country_id.code
            first, last = rng.choice(FIRST_NAMES[country]), rng.choice(LAST_NAMES[country])
            people.append({
                "name": f"{first} {last}", "parent_id": company.id, "type": "contact", "function": rng.choice(
                    ["Purchasing manager", "IT director", "CFO", "Operations manager", "CEO"]),
                "email": f"{first.lower()}.{last.lower()}@{company.name.split()[0].lower()}.example.com",
                "partner_latitude": company.partner_latitude, "partner_longitude": company.partner_longitude,
                "geocode_status": "ok", "geocode_source": "offline", "geocode_date": self.now,
                "contact_quality_id": company.contact_quality_id.id, "user_id": company.user_id.id,
            })
        return companies | Partner.create(people)

    # ------------------------------------------------------------------ planning (no database)

    def _plan(self, index):
        rng = self.rng
        span = (self.now - self.start).total_seconds()
        created = self.start + timedelta(seconds=span * rng.random() ** 0.85)  # business grows
        created = created.replace(hour=rng.randint(6, 15), minute=rng.randint(0, 59), second=0)
        type_xmlid = rng.choices(list(TYPES), [share for share, *_rest in TYPES.values()])[0]
        _share, chance, stage_days, typical = TYPES[type_xmlid]
        opportunity_type = self.types[type_xmlid]
        customer = rng.choice(self.customers)
        user = customer.user_id
        style = self.styles[user]
        chance = min(chance * self.quality_factors[customer.contact_quality_id], 0.92)
        stages = opportunity_type.stage_ids.sorted(lambda stage: (stage.sequence, stage.id))
        open_stages, won_stage = stages.filtered(lambda stage: not stage.is_won), stages.filtered("is_won")[:1]
        won = rng.random() < chance
        reached = len(open_stages) if won else rng.randint(1, len(open_stages))
        currency = self.eur if rng.random() < 0.75 else self.company.currency_id
        amount = max(round(typical * rng.lognormvariate(0, 0.6), -2), 500)
        with_lines = rng.random() < 0.65
        cycle = stage_days * len(open_stages)
        deadline = (created + timedelta(days=cycle * rng.uniform(0.8, 1.6) + (120 if "renewal" in type_xmlid else 0)))
        vals = {
            "name": f"{rng.choice(SUBJECTS)}, {customer.commercial_company_name or customer.name}",
            "type": "opportunity", "partner_id": customer.id, "user_id": user.id,
            "team_id": self.teams[user].id,
            "company_id": self.company.id, "opportunity_type_id": opportunity_type.id,
            "stage_id": open_stages[0].id, "probability_level_id": self._stage_level(open_stages, 0).id,
            "currency_id": currency.id, "date_deadline": deadline.date(),
            "expected_margin": round(amount * rng.uniform(0.12, 0.35), -1),
        }
        if with_lines:
            families = rng.sample(FAMILIES, rng.randint(1, 3))
            shares = [rng.uniform(0.5, 1.5) for _family in families]
            vals["line_ids"] = [Command.create({
                "product_categ_id": self.products[family].categ_id.id, "product_id": self.products[family].id,
                "amount_gross": round(amount * share / sum(shares), -1),
                "amount_discount": round(amount * share / sum(shares) * rng.choice([0, 0, 0.05, 0.1]), -1),
                "date_expected_order": deadline.date(),
                "date_expected_invoice": (deadline + timedelta(days=rng.randint(10, 45))).date(),
            }) for family, share in zip(families, shares, strict=True)]
        else:
            vals["expected_revenue"] = amount
            vals["date_expected_invoice"] = (deadline + timedelta(days=rng.randint(10, 45))).date()
        life = Life(index, created, vals, user.id)
        events, when = life.events, created
        events.append((created, "create", None))
        for position in range(reached):
            stay = max(rng.expovariate(1 / stage_days), 1.0)
            for _note in range(rng.choice([0, 1, 1, 2])):
                events.append((when + timedelta(days=stay * rng.random(), hours=rng.random()), "note",
                               rng.choice(NOTES)))
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
            events.append((when, "won", {"stage_id": won_stage.id}))
            invoiced = when + timedelta(days=rng.randint(3, 30))
            events.append((invoiced, "invoice", None))
            roll = rng.random()
            if roll < 0.65:
                events.append((invoiced + timedelta(days=rng.randint(10, 60)), "payment", 1.0))
            elif roll < 0.8:
                events.append((invoiced + timedelta(days=rng.randint(10, 45)), "payment", rng.choice([0.3, 0.5])))
            elif roll < 0.86:
                events.append((invoiced + timedelta(days=rng.randint(5, 25)), "refund", rng.choice([0.1, 0.2])))
        else:
            events.append((when, "lost", None))
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

    def _play(self, env, when, kind, payload, life):
        env = env(user=life.user, su=True)
        lead = life.lead.with_env(env) if life.lead else None
        getattr(self, f"_play_{kind}")(env, when, payload, life, lead)
        # records kept across ticks hold the base environment: Odoo looks environments up
        # among the live ones, and thousands of ticks' would slow every with_context down
        for name in ("lead", "order", "invoice"):
            if getattr(life, name):
                setattr(life, name, getattr(life, name).with_env(self.env))

    def _play_create(self, env, when, payload, life, lead):
        life.lead = env["crm.lead"].create(life.vals)
        env.flush_all()
        env.cr.execute(SQL(
            "UPDATE crm_lead SET create_date = %(when)s, date_open = %(when)s, date_last_stage_update = %(when)s "
            "WHERE id = %(id)s", when=when, id=life.lead.id,
        ))
        life.lead.invalidate_recordset(["create_date", "date_open", "date_last_stage_update"])

    def _play_note(self, env, when, payload, life, lead):
        self._log(life, when, payload)

    def _play_activity(self, env, when, payload, life, lead):
        self._log(life, when, "Follow-up call: done.", activity_type=self.ref("mail.mail_activity_data_call"))

    def _log(self, life, when, body, activity_type=None):
        """A note (or a done activity) of the salesperson on the opportunity, at ``when``."""
        self.messages.append({
            "model": "crm.lead", "res_id": life.lead.id, "body": body, "date": when,
            "message_type": "comment" if not activity_type else "notification",
            "subtype_id": self.ref("mail.mt_note" if not activity_type else "mail.mt_activities").id,
            "author_id": self.env["res.users"].browse(life.user).partner_id.id,
            "mail_activity_type_id": activity_type.id if activity_type else False,
        })

    def _play_stage(self, env, when, payload, life, lead):
        stage_id, level_id = payload
        planned = lead.activity_ids
        lead.write({"stage_id": stage_id, "probability_level_id": level_id})
        self._set_dates(lead, when, "date_last_stage_update")
        today = fields.Date.context_today(lead)
        for activity in lead.activity_ids - planned:  # the stage's plan, due counted from the clock's day
            activity.date_deadline = when.date() + (activity.date_deadline - today)

    def _play_level(self, env, when, payload, life, lead):
        lead.probability_level_id = self.ref(LEVEL % payload).id

    def _play_push(self, env, when, payload, life, lead):
        lead.date_deadline = max(lead.date_deadline or when.date(), when.date()) + timedelta(days=payload)

    def _play_amount(self, env, when, payload, life, lead):
        if lead.line_ids:
            for line in lead.line_ids:
                gross = round(line.amount_gross * payload, -1)
                line.write({"amount_gross": gross, "amount_discount": min(line.amount_discount, gross)})
        else:
            lead.expected_revenue = round(lead.expected_revenue * payload, -2)

    def _play_quotation(self, env, when, payload, life, lead):
        eur = lead.currency_id == self.eur
        order_lines = []
        for line in lead.line_ids or [None]:
            product = line.product_id if line else self.products[self.rng.choice(FAMILIES)]
            amount = line.amount_net if line else lead.amount_net
            order_lines.append(Command.create({"product_id": product.id, "product_uom_qty": 1, "price_unit": amount,
                                               "tax_id": [Command.clear()]}))
        life.order = env["sale.order"].create({
            "partner_id": lead.partner_id.id, "opportunity_id": lead.id, "user_id": life.user,
            "team_id": lead.team_id.id, "date_order": when, "order_line": order_lines, "origin": lead.number,
            **({"pricelist_id": self.eur_pricelist.id} if eur else {}),
        })

    def _play_won(self, env, when, payload, life, lead):
        lead.write({"won_reason_id": self.rng.choice(self.won_reasons).id,
                    "close_description": self.rng.choice(["Signed after the final call.", "Order received.",
                                                          "Chosen over two competitors.", ""]) or False})
        lead.action_set_won()
        self._set_dates(lead, when, "date_closed", "date_last_stage_update")
        self._close_activities(life, when, lead)
        if life.order:
            order = life.order.with_env(env)
            order.action_confirm()
            order.date_order = when

    def _play_lost(self, env, when, payload, life, lead):
        lead.action_set_lost(lost_reason_id=self.rng.choice(self.lost_reasons).id,
                             close_description=self.rng.choice(["Budget cut.", "Went with a competitor.", ""]) or False)
        self._set_dates(lead, when, "date_closed")
        if life.order:
            life.order.with_env(env)._action_cancel()
        self._close_activities(life, when, lead)

    def _close_activities(self, life, when, lead):
        for activity in lead.activity_ids:
            self._log(life, when, f"{activity.summary or activity.activity_type_id.name}: done.",
                      activity_type=activity.activity_type_id)
        lead.activity_ids.unlink()

    def _play_invoice(self, env, when, payload, life, lead):
        if not life.order:
            return
        invoice = life.order.with_env(env)._create_invoices()
        invoice.invoice_date = when.date()
        invoice.action_post()
        life.invoice = invoice

    def _play_payment(self, env, when, payload, life, lead):
        if not life.invoice:
            return
        invoice = life.invoice.with_env(env)
        env["account.payment.register"].with_context(active_model="account.move", active_ids=invoice.ids).create({
            "payment_date": when.date(), "amount": invoice.currency_id.round(invoice.amount_residual * payload),
        }).action_create_payments()

    def _play_refund(self, env, when, payload, life, lead):
        if not life.invoice:
            return
        refund = life.invoice.with_env(env)._reverse_moves([{
            "invoice_date": when.date(), "ref": f"Discount granted on {life.invoice.name}",
        }])
        for line in refund.invoice_line_ids:
            line.price_unit = line.currency_id.round(line.price_unit * payload)
        refund.action_post()

    def _play_review(self, env, when, payload, life, lead):
        """An open opportunity whose expected closing has passed is given a new one."""
        if lead.date_deadline and lead.date_deadline < when.date():
            lead.date_deadline = when.date() + timedelta(days=payload)

    def _play_plan(self, env, when, payload, life, lead):
        lead.activity_schedule("mail.mail_activity_data_todo", summary="Next step",
                               date_deadline=(when + timedelta(days=payload)).date(), user_id=life.user)

    # ------------------------------------------------------------------ the clock's dates on what Odoo dates now

    def _set_dates(self, lead, when, *names):
        lead.flush_recordset()
        self.env.cr.execute(SQL("UPDATE crm_lead SET %s WHERE id = %s", SQL(", ").join(
            SQL("%s = %s", SQL.identifier(name), when) for name in names), lead.id))
        lead.invalidate_recordset(list(names))

    def _finish(self, leads):
        leads = self.env["crm.lead"].browse(lead.id for lead in leads)
        self.env.invalidate_all()
        self.env.add_to_compute(leads._fields["day_open"], leads)
        self.env.add_to_compute(leads._fields["day_close"], leads)
        self.env.flush_all()
