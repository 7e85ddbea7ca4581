# Entry points of the README. Both set up .venv (scripts/bootstrap) when it is missing.
.PHONY: demo test sanity lint bootstrap clean

demo:
	scripts/demo

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
