# Entry points of the README. Both set up .venv (scripts/bootstrap) when it is missing.
.PHONY: demo test sanity lint bootstrap clean

# make demo DEMO_SIZE=30: a simulated fleet of 30 VMs (scripts/demo -e demo_size=30).
demo:
	scripts/demo $(if $(DEMO_SIZE),-e demo_size=$(DEMO_SIZE))

test:
	scripts/test

sanity: bootstrap
	scripts/sanity

lint: bootstrap
	.venv/bin/ansible-lint --profile production

bootstrap:
	scripts/bootstrap

clean:
	rm -rf .venv .cache .demo tests/output
