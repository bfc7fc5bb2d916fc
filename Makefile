# The two commands: `make run` and `make test`. Everything else is for developers.
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin

.PHONY: setup run test fuzz lint format schema bench clean

# uv itself comes from PyPI into .uv/, then installs the locked dependencies (uv.lock).
$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

run: setup
	$(BIN)/poscrm migrate
	$(BIN)/poscrm serve

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

# The schemathesis property test alone, further than `make test` takes it:
# `make fuzz FUZZ_EXAMPLES=500 FUZZ_SEED=7`.
fuzz: setup
	POSCRM_FUZZ_EXAMPLES=$(or $(FUZZ_EXAMPLES),200) POSCRM_FUZZ_SEED=$(or $(FUZZ_SEED),0) \
		$(BIN)/pytest -m fuzz $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

schema: setup
	$(BIN)/poscrm export-schema

bench: setup
	$(BIN)/python bench/search_by_phone_prefix.py
	$(BIN)/python bench/search_by_card_and_phone.py $(BENCH_ARGS)
	$(BIN)/python bench/import_customers.py $(BENCH_ARGS)
	$(BIN)/python bench/sale_throughput.py
	$(BIN)/python bench/customer_screen.py
	$(BIN)/python bench/query_cost.py
	$(BIN)/python bench/supervision_tick.py
	$(BIN)/python bench/slowloris.py
	$(BIN)/python bench/notifications.py

clean:
	rm -rf $(VENV) .uv .pytest_cache .mypy_cache .ruff_cache
