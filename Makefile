# crm_opportunity_management — the two commands: `make run` and `make test`.
# Variables: ODOO_SRC (default /opt/odoo), ODOO_ARCHIVE, DB_NAME, HTTP_PORT, ODOO_SUITES=0|1,
# REPLICA_CHECK_ARGS (options of tools/replica_check.py, e.g. "--pg-port 5450 --http-port 8650"),
# BENCH_ARGS (bench/run_all.py), LOAD_ARGS (tools/load_check.py).
.PHONY: run test host odoo-suites replica-check lint bench load-check
SHELL := /bin/bash

run:
	@tools/harness.sh run

test:
	@tools/harness.sh test

host:
	@tools/harness.sh host

odoo-suites:
	@tools/harness.sh odoo-suites

# Not part of `make test` (nor of CI): a primary and a hot standby on loopback, Odoo with
# workers reading from the standby; see README "Scaling out".
replica-check:
	@tools/harness.sh replica-check $(REPLICA_CHECK_ARGS)

# every benchmark, one table (builds the large databases once per version of the code)
bench:
	@tools/harness.sh bench

# a multi-worker server under simulated users, PostgreSQL restarted, a worker killed, invariants, -u twice
load-check:
	@tools/harness.sh load-check
