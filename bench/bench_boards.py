"""Benchmark of the opportunity boards on a large database, printed as ratios.

    bench/bench_boards.py --db crm_om_bench [--template crm_opportunity_management_test]

Fills a copy of a database where the module is installed (demo data) with 100,000
opportunities, 50,000 confirmed sales orders and 50,000 posted customer invoices, by
copying demo rows in SQL (the ORM would take hours), then measures in one run:

- ``get_board("progress")`` against Odoo's own stage-grouped ``read_group`` of the same
  opportunities (target: ratio <= 1.5);
- ``get_board("invoicing")`` over 24 months against the three plain ``read_group`` calls it
  replaces (opportunities, orders, invoices by month; target: ratio <= 1.5), collapsed (the
  same totals) and expanded (plus up to 80 cards per month and type);

each the best of 5 runs, with the number of SQL queries. Nothing is asserted.
"""

import os
import sys

from bench_common import bench_env, copy_rows, emit, measure

SIZES = {"crm_lead": 100_000, "sale_order": 50_000, "account_move": 50_000}


def fill(env):
    from odoo.tools import SQL  # odoo is on the path once bench_env put it there

    cr = env.cr
    cr.execute("SELECT COUNT(*) FROM crm_lead WHERE name LIKE 'BENCH %%'")
    if cr.fetchone()[0]:
        return
    users = env["res.users"].search([("share", "=", False)], limit=10).ids
    stages = env["crm.stage"].search([("is_won", "=", False)]).ids
    # the module's own rule for the level of a probability, as SQL
    level = env["crm.probability.level"]._level_sql(SQL("((n %% 7) * 15)"))
    level_sql = cr.mogrify(level.code, level.params).decode()
    copy_rows(cr, "crm_lead", "type = 'opportunity' AND active", SIZES["crm_lead"], {
        "name": "'BENCH ' || n", "number": "'BENCH/' || n",
        "user_id": f"(ARRAY{users})[1 + n % {len(users)}]",
        "stage_id": f"(ARRAY{stages})[1 + n % {len(stages)}]",
        "probability": "(n % 7) * 15", "probability_level_id": level_sql,
        "expected_revenue": "1000 + n % 9000",
        "date_expected_invoice": "DATE '2025-01-01' + (n % 730)", "active": "TRUE",
    })
    copy_rows(cr, "sale_order", "state = 'sale'", SIZES["sale_order"], {
        "name": "'BENCH-SO/' || n", "user_id": f"(ARRAY{users})[1 + n % {len(users)}]",
        "date_order": "TIMESTAMP '2025-01-01' + (n % 730) * INTERVAL '1 day'",
        "amount_untaxed": "500 + n % 5000", "state": "'sale'",
    })
    copy_rows(cr, "account_move", "state = 'posted' AND move_type = 'out_invoice'", SIZES["account_move"], {
        "name": "'BENCH-INV/' || n", "invoice_user_id": f"(ARRAY{users})[1 + n % {len(users)}]",
        "invoice_date": "DATE '2025-01-01' + (n % 730)", "date": "DATE '2025-01-01' + (n % 730)",
        "amount_untaxed_signed": "400 + n % 4000", "amount_total_signed": "480 + n % 4800",
        "amount_residual_signed": "(n % 2) * (480 + n % 4800)", "sequence_number": "n + 1000000",
    })
    cr.execute("ANALYZE crm_lead; ANALYZE sale_order; ANALYZE account_move")
    env.invalidate_all()


def main():
    with bench_env(__doc__, "crm_om_bench", fill) as env:
        Lead, Analysis = env["crm.lead"], env["crm.invoicing.analysis"]
        domain = [("type", "=", "opportunity")]
        counts = {table: env[model].search_count([]) for table, model in
                  (("crm_lead", "crm.lead"), ("sale_order", "sale.order"), ("account_move", "account.move"))}
        print(f"data: {counts['crm_lead']:,} opportunities, {counts['sale_order']:,} orders, "
              f"{counts['account_move']:,} moves")

        progress, progress_q, _result = measure(env, lambda: Lead.get_board("progress", [], {"limit": 80}))
        stage_plain, plain_q, _result = measure(
            env, lambda: Lead.read_group(domain, ["expected_revenue:sum"], ["stage_id"]))
        print(f"get_board('progress'): {progress * 1000:.1f} ms, {progress_q} queries; "
              f"read_group by stage: {stage_plain * 1000:.1f} ms, {plain_q} queries; "
              f"ratio {progress / stage_plain:.2f} (target <= 1.5)")

        options = {"date_from": "2025-01-01", "date_to": "2026-12-31", "limit": 80}
        board, board_q, _result = measure(env, lambda: Lead.get_board("invoicing", [], options))
        collapsed, collapsed_q, _result = measure(env, lambda: Lead.get_board(
            "invoicing", [], {**options, "collapse": ["opportunity", "order", "invoice"]}))

        def three_read_groups():
            Lead.read_group([*domain, ("date_expected_invoice", ">=", "2025-01-01")], ["expected_revenue:sum"],
                            ["date_expected_invoice:month"])
            env["sale.order"].read_group([("state", "=", "sale"), ("date_order", ">=", "2025-01-01")],
                                         ["amount_untaxed:sum"], ["date_order:month"])
            env["account.move"].read_group([("state", "=", "posted"), ("move_type", "=", "out_invoice"),
                                            ("invoice_date", ">=", "2025-01-01")],
                                           ["amount_untaxed_signed:sum"], ["invoice_date:month"])

        plain, plain_q, _result = measure(env, three_read_groups)
        print(f"three read_group by month (orders, invoices, opportunities): {plain * 1000:.1f} ms, {plain_q} queries")
        print(f"get_board('invoicing', 24 months, collapsed: the same totals): {collapsed * 1000:.1f} ms, "
              f"{collapsed_q} queries; ratio {collapsed / plain:.2f} (target <= 1.5)")
        print(f"get_board('invoicing', 24 months, expanded, 80 cards per month and type): {board * 1000:.1f} ms, "
              f"{board_q} queries; ratio {board / plain:.2f}")
        print(f"analysis rows: {Analysis.search_count([]):,}")
        emit("boards (100,000 opportunities, 50,000 orders, 50,000 invoices)", [
            ("get_board('progress')", progress * 1000, "ms", None),
            ("ratio to read_group by stage", progress / stage_plain, "x", "<= 1.5"),
            ("get_board('invoicing'), 24 months collapsed", collapsed * 1000, "ms", None),
            ("ratio to the three read_group by month", collapsed / plain, "x", "<= 1.5"),
            ("get_board('invoicing'), 24 months expanded (80 cards)", board * 1000, "ms", None),
        ])


if __name__ == "__main__":
    sys.path.insert(0, os.environ.get("ODOO_SRC", "/opt/odoo"))
    main()
