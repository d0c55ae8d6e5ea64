# Two commands matter (see README): `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo test lint typecheck pytest ruletest mutation clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

setup: $(BIN)/.installed

## The main job: the daemon against the built-in simulator, with a scripted trader.
demo: setup
	$(BIN)/simple-risk demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/simple-risk rules lint --strict rulesets/

typecheck: setup
	$(BIN)/mypy

# pytest exits 5 when it collected no test: that is not a failure of the suite.
pytest: setup
	$(BIN)/pytest -q || [ $$? -eq 5 ]

# The rule book: every case of tests/rules/, and every rule of topstep.yaml must fire in one.
ruletest: setup
	$(BIN)/simple-risk rules test tests/rules --coverage

# Mutants of topstep.yaml (a flipped comparison, a threshold moved, an action dropped, a
# duration halved ...): fails unless the rule tests catch every one.
mutation: setup
	$(BIN)/python tests/mutation/run.py

## The whole test suite, as CI runs it.
test: lint typecheck pytest ruletest mutation

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
