# crm_opportunity_management — the two commands: `make run` and `make test`.
# Variables: ODOO_SRC (default /opt/odoo), ODOO_ARCHIVE, DB_NAME, HTTP_PORT, ODOO_SUITES=0|1.
.PHONY: run test host odoo-suites lint
SHELL := /bin/bash

run:
	@tools/harness.sh run

test:
	@tools/harness.sh test

host:
	@tools/harness.sh host

odoo-suites:
	@tools/harness.sh odoo-suites
