"""Writes demo/crm_opportunity_management_demo.xml: 30 opportunities, lines in USD and EUR.

Run from the repository root: ``python3 tools/generate_demo_xml.py`` (seeded, so the
output only changes when this script does).
"""

import random
from pathlib import Path

PARTNERS = [f"base.res_partner_{n}" for n in (1, 2, 3, 4, 10, 12, 18)] + [
    f"base.res_partner_address_{n}" for n in (1, 3, 10, 13, 15)
]
# City-level positions of the demo contacts (contacts share their company's address).
CITY_POSITIONS = {
    "Turlock": (37.4947, -120.8466), "Pleasant Hill": (37.948, -122.0608), "Fairfield": (38.2494, -122.04),
    "Tracy": (37.7397, -121.4252), "Fremont": (37.5485, -121.9886), "Stockton": (37.9577, -121.2908),
}
PARTNER_CITIES = ["Turlock", "Pleasant Hill", "Fairfield", "Tracy", "Tracy", "Fremont", "Stockton",
                  "Turlock", "Pleasant Hill", "Fairfield", "Tracy", "Fremont"]
QUALITIES = ["strategic", "regular", "occasional", "prospect"]
TYPES = ["new_business", "upsell", "renewal", "tender"]
FAMILIES = [("hardware", "Hardware"), ("software", "Software licences"), ("services", "Services"),
            ("maintenance", "Maintenance")]
STAGES = ["crm.stage_lead1", "crm.stage_lead2", "crm.stage_lead3"]
USERS = ["base.user_admin", "base.user_demo"]
SUBJECTS = ["Office network upgrade", "ERP roll-out", "Warehouse scanners", "Cloud migration",
            "Annual maintenance", "Training programme", "Data centre refresh", "Retail POS terminals",
            "Security audit", "CRM licences", "Field service tablets", "Backup solution",
            "Video-conference rooms", "Printer fleet", "Support contract renewal"]
WON_REASONS = ["price", "quality", "relationship", "service", "delivery"]
# The "Public tender" workflow: (xml id suffix, name, level, allowed next stages, required fields)
TENDER_STAGES = [
    ("announced", "Tender announced", 10, ["preparation"], []),
    ("preparation", "Bid preparation", 25, ["submitted", "announced"], []),
    ("submitted", "Bid submitted", 50, ["evaluation"], ["date_deadline", "partner_id"]),
    ("evaluation", "Evaluation", 75, ["awarded", "submitted"], []),
    ("awarded", "Awarded", 0, [], []),
]


def in_days(days):
    return f"(DateTime.today() + relativedelta(days={days})).strftime('%Y-%m-%d')"


def field(name, value=None, ref=None, eval_=None):
    if ref:
        return f'        <field name="{name}" ref="{ref}"/>'
    if eval_:
        return f'        <field name="{name}" eval="{eval_}"/>'
    return f'        <field name="{name}">{value}</field>'


def record(xmlid, model, fields):
    return [f'    <record id="{xmlid}" model="{model}">', *fields, "    </record>"]


def line_command(rnd, key, name, days):
    gross = rnd.randint(20, 400) * 100
    discount = rnd.choice([0, 0, 5, 10, 15]) * gross // 100
    day = days - rnd.randint(0, 30)
    return (
        f"(0, 0, {{'product_categ_id': ref('product_category_{key}_demo'), 'name': '{name}', "
        f"'amount_gross': {gross}, 'amount_discount': {discount}, "
        f"'date_expected_order': {in_days(day)}, 'date_expected_delivery': {in_days(day + 20)}, "
        f"'date_expected_invoice': {in_days(day + 30)}}})"
    )


def tender_workflow():
    """A sales team for public tenders with its own stages, rules and activity plan."""
    lines = record("crm_team_public_sector_demo", "crm.team", [
        field("name", "Public Sector"), field("user_id", ref="base.user_demo"), field("use_leads", eval_="False"),
    ])
    lines += record("mail_activity_plan_bid_demo", "mail.activity.plan", [
        field("name", "Bid preparation"), field("res_model", "crm.lead"),
        field("template_ids", eval_="[(0, 0, {'activity_type_id': ref('mail.mail_activity_data_call'), "
              "'summary': 'Kick-off call with the bid team', 'responsible_type': 'on_demand'}), "
              "(0, 0, {'activity_type_id': ref('mail.mail_activity_data_todo'), "
              "'summary': 'Collect the tender documents', 'responsible_type': 'on_demand', "
              "'delay_count': 3, 'delay_from': 'after_plan_date'})]"),
    ])
    for index, (key, name, level, _next, _required) in enumerate(TENDER_STAGES):
        fields = [field("name", name), field("sequence", 50 + index),
                  field("team_id", ref="crm_team_public_sector_demo")]
        if key == "awarded":
            fields.append(field("is_won", eval_="True"))
        else:
            fields.append(field("probability_level_id", ref=f"crm_probability_level_{level}"))
        if key == "preparation":
            fields.append(field("activity_plan_id", ref="mail_activity_plan_bid_demo"))
        lines += record(f"crm_stage_tender_{key}_demo", "crm.stage", fields)
    for key, _name, _level, next_keys, required in TENDER_STAGES:
        fields = []
        if next_keys:
            refs = ", ".join(f"ref('crm_stage_tender_{next_key}_demo')" for next_key in next_keys)
            fields.append(field("next_stage_ids", eval_=f"[(6, 0, [{refs}])]"))
        if required:
            refs = ", ".join(f"ref('crm.field_crm_lead__{name}')" for name in required)
            fields.append(field("required_field_ids", eval_=f"[(6, 0, [{refs}])]"))
        if fields:
            lines += record(f"crm_stage_tender_{key}_demo", "crm.stage", fields)
    stages = ", ".join(f"ref('crm_stage_tender_{key}_demo')" for key, *_rest in TENDER_STAGES)
    lines += record("crm_opportunity_type_tender", "crm.opportunity.type",
                    [field("stage_ids", eval_=f"[(6, 0, [{stages}])]")])
    return lines


def tender_moves(number, target):
    """Stage changes that walk a tender opportunity through its workflow to ``target``."""
    keys = [key for key, *_rest in TENDER_STAGES]
    return [
        f'    <function model="crm.lead" name="write" eval="[[ref(\'crm_lead_{number:02d}_demo\')], '
        f'{{\'stage_id\': ref(\'crm_stage_tender_{key}_demo\')}}]"/>'
        for key in keys[1:keys.index(target) + 1]
    ]


def opportunity(rnd, number):
    days = rnd.randint(-60, 240)
    tender = TYPES[number % 4] == "tender"
    fields = [
        field("name", SUBJECTS[number % len(SUBJECTS)]),
        field("type", "opportunity"),
        field("partner_id", ref=rnd.choice(PARTNERS)),
        field("user_id", ref=USERS[number % 2]),
        field("team_id", ref="crm_team_public_sector_demo" if tender else "sales_team.team_sales_department"),
        field("opportunity_type_id", ref=f"crm_opportunity_type_{TYPES[number % 4]}"),
        field("date_deadline", eval_=in_days(days)),
    ]
    if number % 3 == 0:
        fields.append(field("currency_id", ref="base.EUR"))
    if number > 27:  # lost
        fields += [field("stage_id", ref=STAGES[number % 3]), field("active", eval_="False"),
                   field("probability", 0), field("lost_reason_id", ref="crm.lost_reason_1"),
                   field("close_description", "The customer postponed the project to next year.")]
    elif tender:
        fields.append(field("stage_id", ref="crm_stage_tender_announced_demo"))
        if number > 22:
            fields += [field("won_reason_id", ref=f"crm_won_reason_{WON_REASONS[number % 5]}"),
                       field("close_description", "Best technical score of the evaluation committee.")]
    elif number > 22:  # won
        fields += [field("stage_id", ref="crm.stage_lead4"),
                   field("won_reason_id", ref=f"crm_won_reason_{WON_REASONS[number % 5]}"),
                   field("close_description", "Chosen over two competitors after the on-site demo.")]
    else:
        level = rnd.choice([10, 25, 50, 75, 90])
        fields += [field("stage_id", ref=STAGES[number % 3]),
                   field("probability_level_id", ref=f"crm_probability_level_{level}")]
    if number % 5:
        families = rnd.sample(FAMILIES, rnd.randint(1, 3))
        commands = ",\n            ".join(line_command(rnd, key, name, days) for key, name in families)
        fields.append(f'        <field name="line_ids" eval="[\n            {commands}]"/>')
    else:
        fields += [field("expected_revenue", rnd.randint(5, 90) * 1000),
                   field("date_expected_invoice", eval_=in_days(days + 30))]
    fields.append(field("expected_margin", rnd.randint(5, 40) * 100))
    lines = record(f"crm_lead_{number:02d}_demo", "crm.lead", fields)
    if tender:
        target = "awarded" if number > 22 else rnd.choice(["announced", "preparation", "submitted", "evaluation"])
        lines += tender_moves(number, target)
    return lines


def main():
    rnd = random.Random(18)
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<odoo>"]
    lines += record("base.EUR", "res.currency", [field("active", eval_="True")])
    for key, name in FAMILIES:
        lines += record(f"product_category_{key}_demo", "product.category",
                        [field("parent_id", ref="product.product_category_all"), field("name", name)])
    for index, partner in enumerate(PARTNERS):
        lat, lng = CITY_POSITIONS[PARTNER_CITIES[index]]
        lines += record(partner, "res.partner", [
            field("contact_quality_id", ref=f"crm_contact_quality_{QUALITIES[index % 4]}"),
            field("partner_latitude", eval_=repr(lat)), field("partner_longitude", eval_=repr(lng)),
            field("geocode_status", "ok"), field("geocode_source", "offline"),
        ])
    lines += tender_workflow()
    for number in range(1, 31):
        lines += opportunity(rnd, number)
    lines += ["</odoo>", ""]
    Path("demo/crm_opportunity_management_demo.xml").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
