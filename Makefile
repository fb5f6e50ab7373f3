# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
CARGO ?= cargo
VENV ?= $(CURDIR)/.venv
MOTO_VENV ?= $(CURDIR)/.venv-moto
export ETLAKE_VENV := $(VENV)
export ETLAKE_MOTO_VENV := $(MOTO_VENV)

.PHONY: test demo deps lint

deps:
	scripts/setup-deps.sh --python

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: deps lint
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

demo:
	scripts/setup-deps.sh --python
	$(CARGO) build --release --bin etlake
	$(CARGO) build --release -p sample-lake --example sample_lake
	scripts/demo.sh target/release/etlake
