"""Benchmark of the opportunity map on a large database, printed as ratios.

    bench/bench_map.py --db crm_om_map_bench [--template crm_opportunity_management_test]

Fills a copy of a database where the module is installed (demo data) with 20,000
located contacts (random positions over Europe) and 50,000 open opportunities spread
over them, in SQL, then measures in one run (best of 5):

- ``get_map_data([])`` against a plain ``search_read`` of the same opportunities'
  contacts and of those contacts' coordinates (what a client needs at the least to place
  them; target: ratio <= 0.5), with the number of SQL queries of each;
- the same with a radius search (100 km around Zagreb);
- the bytes per marker of the JSON answer.

The browser side (opening the map to all markers and clusters drawn) is measured by
``bench/bench_map_browser.py`` on the same database. Nothing is asserted.
"""

import json
import os
import sys

from bench_common import bench_env, copy_rows, emit, measure

CONTACTS, OPPORTUNITIES = 20_000, 50_000


def fill(env):
    cr = env.cr
    cr.execute("SELECT COUNT(*) FROM res_partner WHERE name LIKE 'MAPBENCH %%'")
    if cr.fetchone()[0]:
        return
    qualities = env["crm.contact.quality"].search([]).ids
    # positions: deterministic pseudo-random spread over Europe (35..60 N, -10..30 E)
    copy_rows(cr, "res_partner", "is_company AND city IS NOT NULL", CONTACTS, {
        "name": "'MAPBENCH ' || n", "complete_name": "'MAPBENCH ' || n", "email": "NULL",
        "partner_latitude": "35 + ((n * 7919) % 25000) / 1000.0",
        "partner_longitude": "-10 + ((n * 104729) % 40000) / 1000.0",
        "contact_quality_id": f"(ARRAY{qualities})[1 + n % {len(qualities)}]",
        "geocode_status": "'ok'", "parent_id": "NULL", "commercial_partner_id": "NULL",
    })
    cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE name LIKE 'MAPBENCH %%'")
    cr.execute("SELECT MIN(id) FROM res_partner WHERE name LIKE 'MAPBENCH %%'")
    first = cr.fetchone()[0]
    users = env["res.users"].search([("share", "=", False)], limit=10).ids
    copy_rows(cr, "crm_lead", "type = 'opportunity' AND active", OPPORTUNITIES, {
        "name": "'MAPBENCH ' || n", "number": "'MAPBENCH/' || n", "partner_id": f"{first} + n % {CONTACTS}",
        "user_id": f"(ARRAY{users})[1 + n % {len(users)}]", "probability": "(n % 7) * 15",
        "expected_revenue": "1000 + n % 9000", "active": "TRUE",
    })
    cr.execute("ANALYZE res_partner; ANALYZE crm_lead")
    env.invalidate_all()


def main():
    with bench_env(__doc__, "crm_om_map_bench", fill) as env:
        Lead = env["crm.lead"]
        domain = [("type", "=", "opportunity")]

        def plain_search_read():
            leads = Lead.search_read(domain, ["partner_id"])
            partner_ids = list({lead["partner_id"][0] for lead in leads if lead["partner_id"]})
            coordinates = ["partner_latitude", "partner_longitude"]
            return env["res.partner"].search_read([("id", "in", partner_ids)], coordinates)

        plain, plain_q, partners = measure(env, plain_search_read)
        data_time, data_q, data = measure(env, lambda: Lead.get_map_data([]))
        markers = data["markers"]
        print(f"data: {len(markers):,} markers for {sum(marker['count'] for marker in markers):,} opportunities "
              f"({data['missing']:,} without coordinates); {len(partners):,} contacts read by search_read")
        print(f"get_map_data: {data_time * 1000:.1f} ms, {data_q} queries; search_read of the opportunities' "
              f"contacts and coordinates: {plain * 1000:.1f} ms, {plain_q} queries; "
              f"ratio {data_time / plain:.2f} (target <= 0.5)")
        options = {"center": [45.815, 15.982], "radius_km": 100}
        radius_time, radius_q, radius = measure(env, lambda: Lead.get_map_data([], options))
        print(f"get_map_data within 100 km of Zagreb: {radius_time * 1000:.1f} ms, {radius_q} queries, "
              f"{len(radius['markers']):,} markers; ratio to the search_read {radius_time / plain:.2f}")
        size = len(json.dumps(data, separators=(",", ":")).encode())
        print(f"answer: {size / 1e6:.2f} MB of JSON, {size / max(len(markers), 1):.0f} bytes per marker")
        emit(f"map ({len(markers):,} contacts, 50,000 opportunities)", [
            ("get_map_data", data_time * 1000, "ms", None),
            ("ratio to search_read of contacts and coordinates", data_time / plain, "x", "<= 0.5"),
            ("get_map_data within 100 km", radius_time * 1000, "ms", None),
            ("JSON per marker", size / max(len(markers), 1), "bytes", None),
        ])


if __name__ == "__main__":
    sys.path.insert(0, os.environ.get("ODOO_SRC", "/opt/odoo"))
    main()
