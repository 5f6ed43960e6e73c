"""Benchmark of the opportunity history on a large database, printed.

    bench/bench_history.py --db crm_om_bench_history [--template crm_opportunity_management_test]

Fills a copy of a database where the module is installed with 100,000 opportunities and
1,000,000 history rows over two years (ten changes each: amounts, expected closing dates,
stages, closings), in SQL, then measures in one run:

- the pipeline of a quarter at a date and the pipeline flow between two dates
  (``get_pipeline_flow``; target under 1 s each);
- the queries the history adds to writing the stage of 1,000 opportunities in one call
  (target at most 2), against the same write with the history off;
- the growth of the table: rows per opportunity written by one run of Odoo's predictive
  scoring cron (as it runs daily: times 365 per year) and by the demo data.

Nothing is asserted.
"""

import os
import subprocess
import sys
import time

from bench_common import bench_env, copy_rows, emit, measure

OPPORTUNITIES, CHANGES = 100_000, 10


def fill(env):
    cr = env.cr
    cr.execute("SELECT COUNT(*) FROM crm_lead WHERE name LIKE 'HBENCH %%'")
    if cr.fetchone()[0]:
        return
    users = env["res.users"].search([("share", "=", False)], limit=10).ids
    stages = env["crm.stage"].search([("is_won", "=", False)]).ids
    copy_rows(cr, "crm_lead", "type = 'opportunity' AND active", OPPORTUNITIES, {
        "name": "'HBENCH ' || n", "number": "'HBENCH/' || n",
        "user_id": f"(ARRAY{users})[1 + n % {len(users)}]",
        "stage_id": f"(ARRAY{stages})[1 + n % {len(stages)}]",
        "probability": "(n % 7) * 15", "expected_revenue": "1000 + n % 9000", "amount_net": "1000 + n % 9000",
        "date_deadline": "DATE '2025-01-01' + (n % 730)", "active": "TRUE",
        # created up to 2026-11-01: their ten rows, three days apart, are all in the past
        "create_date": "TIMESTAMP '2025-01-01' + (n % 670) * INTERVAL '1 day'",
    })
    # ten rows per opportunity over its life: amounts, expected dates and states that move
    cr.execute("""
        INSERT INTO crm_lead_history (lead_id, company_id, date, changed_by_id, reconstructed, stage_id, probability,
                                      automated_probability, probability_level_id, amount_net, currency_id,
                                      amount_company, rate, date_deadline, user_id, team_id, opportunity_type_id, state,
                                      month_snapshot)
        SELECT lead.id, lead.company_id, lead.create_date + step * INTERVAL '3 days', lead.user_id, FALSE,
               lead.stage_id,
               -- as Odoo writes on closing
               CASE row.state WHEN 'won' THEN 100 WHEN 'lost' THEN 0 ELSE (lead.id + step) %% 7 * 15 END,
               NULL, lead.probability_level_id,
               1000 + (lead.id * step) %% 9000, lead.currency_id, 1000 + (lead.id * step) %% 9000, 1,
               lead.date_deadline + (step - 5) * 7, lead.user_id, lead.team_id, lead.opportunity_type_id,
               row.state, FALSE
          FROM crm_lead lead, generate_series(0, %s - 1) step,
               LATERAL (SELECT CASE WHEN step < %s - 1 THEN 'open' WHEN lead.id %% 3 = 0 THEN 'won'
                                    WHEN lead.id %% 3 = 1 THEN 'lost' ELSE 'open' END AS state) row
         WHERE lead.name LIKE 'HBENCH %%'
    """, [CHANGES, CHANGES])
    # each opportunity as its last row says (won, lost or open, with every value the history
    # keeps), as Odoo would have left it: else the first write after the fill (the scoring cron)
    # records them all again as they are, open, and nothing is ever won in the history
    from odoo.addons.crm_opportunity_management.models.crm_lead_history import LEAD_COLUMNS

    cr.execute(f"""
        UPDATE crm_lead lead
           SET active = last.state <> 'lost',
               date_closed = CASE WHEN last.state <> 'open' THEN last.date END,
               {", ".join(f"{lead_column} = last.{column}" for column, lead_column in LEAD_COLUMNS.items())}
          FROM (SELECT DISTINCT ON (lead_id) * FROM crm_lead_history ORDER BY lead_id, date DESC, id DESC) last
         WHERE last.lead_id = lead.id AND lead.name LIKE 'HBENCH %%'
    """)
    # rows written unmarked, out of the forecast's partial index, then marked, as the
    # installation's seeding does (``crm.lead.history._seed``): only the snapshot rows enter it
    cr.execute("SELECT id FROM crm_lead WHERE name LIKE 'HBENCH %%'")
    env["crm.lead.history"]._mark_month_snapshots([lead_id for (lead_id,) in cr.fetchall()])
    cr.commit()
    # as autovacuum leaves a table at rest: statistics and the visibility map the index-only
    # read of the forecast relies on
    subprocess.run(["psql", "-d", cr.dbname, "-qc", "VACUUM ANALYZE crm_lead, crm_lead_history"], check=True)
    env.invalidate_all()


def main():
    with bench_env(__doc__, "crm_om_bench_history", fill) as env:
        Lead, History = env["crm.lead"], env["crm.lead.history"]
        print(f"data: {Lead.search_count([]):,} opportunities, {History.search_count([]):,} history rows")
        options = {"close_from": "2025-10-01", "close_to": "2025-12-31"}
        at_date, at_date_q, _result = measure(
            env, lambda: Lead.get_pipeline_flow([], {**options, "date_from": "2025-10-01", "date_to": "2025-10-01"}))
        print(f"pipeline of Q4 2025 at 2025-10-01 (flow over one day): {at_date * 1000:.0f} ms, {at_date_q} queries "
              "(target < 1 s)")
        flow_time, flow_q, flow = measure(
            env, lambda: Lead.get_pipeline_flow([], {**options, "date_from": "2025-10-01", "date_to": "2025-12-31"}))
        print(f"pipeline flow of Q4 2025 over the quarter: {flow_time * 1000:.0f} ms, {flow_q} queries "
              f"(target < 1 s); start {flow['start']['count']:,}, end {flow['end']['count']:,}")

        leads = Lead.search([("name", "like", "HBENCH ")], limit=1000)
        stages = env["crm.stage"].search([("is_won", "=", False)], limit=2)

        def stage_write(stage):
            before = env.cr.sql_log_count
            leads.with_context(crm_workflow_bypass=True).write({"stage_id": stage.id})
            env.flush_all()
            return env.cr.sql_log_count - before

        # the same move measured both ways (first stage to second), caches warm: a move to a stage
        # not read yet costs reads the history has nothing to do with
        stage_write(stages[1])
        stage_write(stages[0])
        with_history = stage_write(stages[1])
        stage_write(stages[0])
        env.registry.ready = False  # what a module install does: no history written
        try:
            without = stage_write(stages[1])
        finally:
            env.registry.ready = True
        print(f"stage of 1,000 opportunities in one write: {with_history} queries with the history, {without} "
              f"without: the history adds {with_history - without} (target <= 2)")

        opportunities = Lead.with_context(active_test=False).search_count([("type", "=", "opportunity")])
        # the first run scores the opportunities (their automated probability was empty), the
        # next ones move it as each day's new outcomes change the frequencies
        won = Lead.search([("name", "like", "HBENCH "), ("probability", "<", 100)], limit=5000)
        per_run = []
        for run in ("first run", "next day's run"):
            before = History.search_count([])
            start = time.perf_counter()
            Lead._update_automated_probabilities()
            elapsed = time.perf_counter() - start
            added = History.search_count([]) - before
            per_lead = added / opportunities
            print(f"scoring cron, {run}: {added:,} rows for {opportunities:,} opportunities ({per_lead:.3f} per "
                  f"opportunity, {per_lead * 365:.1f} per year if every run were like it), {elapsed:.1f} s")
            per_run.append(per_lead)
            won.write({"probability": 100})  # a day of outcomes between the runs
            env.flush_all()
        demo = env["crm.lead.history"].search_count([("lead_id.name", "not like", "HBENCH ")])
        demo_leads = Lead.with_context(active_test=False).search_count([("name", "not like", "HBENCH "),
                                                                         ("type", "=", "opportunity")])
        print(f"demo data: {demo:,} rows for {demo_leads:,} opportunities ({demo / max(demo_leads, 1):.1f} each)")
        emit("history (100,000 opportunities, 1,000,000 rows)", [
            ("pipeline of a quarter at a date", at_date * 1000, "ms", "< 1,000 ms"),
            ("pipeline flow over a quarter", flow_time * 1000, "ms", "< 1,000 ms"),
            ("queries the history adds to a stage write of 1,000", with_history - without, "queries", "<= 2"),
            ("rows per opportunity of the scoring cron's next run", per_run[-1], "rows", None),
        ])
        env.cr.rollback()


if __name__ == "__main__":
    sys.path.insert(0, os.environ.get("ODOO_SRC", "/opt/odoo"))
    main()
