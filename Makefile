# Entry points of the README. Both set up .venv (scripts/bootstrap) when it is missing.
.PHONY: demo test unit sanity lint bootstrap clean

# make demo DEMO_SIZE=30: a simulated fleet of 30 VMs (scripts/demo -e demo_size=30).
demo:
	scripts/demo $(if $(DEMO_SIZE),-e demo_size=$(DEMO_SIZE))

test:
	scripts/test

# The unit tests only (parsers, inventory, health, rendering): no ansible processes, no SSH fleet.
unit: bootstrap
	.venv/bin/python -m pytest tests/unit -q

sanity: bootstrap
	scripts/sanity

lint: bootstrap
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/ansible-lint --profile production

bootstrap:
	scripts/bootstrap

clean:
	rm -rf .venv .cache .demo tests/output
