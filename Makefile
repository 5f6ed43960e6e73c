# crm_opportunity_management — the two commands: `make run` and `make test`.
# Variables: ODOO_SRC (default /opt/odoo), ODOO_ARCHIVE, DB_NAME, HTTP_PORT, ODOO_SUITES=0|1,
# BENCH_ARGS (bench/run_all.py), LOAD_ARGS (tools/load_check.py).
.PHONY: run test host odoo-suites lint bench load-check
SHELL := /bin/bash

run:
	@tools/harness.sh run

test:
	@tools/harness.sh test

host:
	@tools/harness.sh host

odoo-suites:
	@tools/harness.sh odoo-suites

# every benchmark, one table (builds the large databases once per version of the code)
bench:
	@tools/harness.sh bench

# a multi-worker server under simulated users, PostgreSQL restarted, a worker killed, invariants, -u twice
load-check:
	@tools/harness.sh load-check
