# The two commands of the README: `make demo` and `make test`. Both install what is missing first.
CARGO ?= cargo
VENV ?= $(CURDIR)/.venv
MOTO_VENV ?= $(CURDIR)/.venv-moto
export ETLAKE_VENV := $(VENV)
export ETLAKE_MOTO_VENV := $(MOTO_VENV)

.PHONY: test demo deps lint python-package

# The Python package (python/): built by maturin with the dev profile, so it reuses what `cargo test`
# compiled, and installed editable into the venv. A rebuild with nothing changed takes seconds.
python-package:
	VIRTUAL_ENV=$(VENV) $(VENV)/bin/maturin develop -q --manifest-path python/Cargo.toml

deps:
	scripts/setup-deps.sh --python

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# pytest exits 5 when it collects no tests: like any non-zero status, that fails the target.
test: deps lint
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	$(MAKE) python-package
	$(CARGO) build -p sample-lake --example sample_lake
	ETLAKE_BIN=$(CURDIR)/target/debug/etlake SAMPLE_LAKE_BIN=$(CURDIR)/target/debug/examples/sample_lake \
	  $(VENV)/bin/python -m pytest -p no:cacheprovider python/tests

demo:
	scripts/setup-deps.sh --python
	$(MAKE) python-package
	$(CARGO) build --release --bin etlake
	$(CARGO) build --release -p sample-lake --example sample_lake
	scripts/demo.sh target/release/etlake
