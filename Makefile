# Two commands matter (see README): `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: setup demo test lint typecheck pytest wallclock ruletest mutation clean \
	compiled test-compiled compiled-suites bench-compiled wheel-compiled

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

# The suites that run simulators and daemons run once, with this process's wall clock moved to
# a weekend (time-machine; the monotonic clock and timed waits stay real): across midnight UTC
# into a Sunday, and across the 17:00 Chicago open of a Sunday. No test may depend on the date
# or hour it runs; this checks it on every run, not only on the runs that fall on a weekend.
# Every other suite runs once on the real wall clock (`pytest`): each test runs exactly once.
WALL_SATURDAY_NIGHT = 2026-12-05T23:59:30Z
WALL_SUNDAY_OPEN    = 2026-12-06T22:59:30Z
SATURDAY_NIGHT_SUITES = tests/adapters tests/simulator tests/replay
SUNDAY_OPEN_SUITES    = tests/daemon tests/cli tests/store tests/dashboard

# pytest exits 5 when it collected no test: that is not a failure of the suite.
pytest: setup
	$(BIN)/pytest -q $(addprefix --ignore=,$(SATURDAY_NIGHT_SUITES) $(SUNDAY_OPEN_SUITES)) \
	  || [ $$? -eq 5 ]

wallclock: setup
	$(BIN)/pytest -q --wall $(WALL_SATURDAY_NIGHT) $(SATURDAY_NIGHT_SUITES)
	$(BIN)/pytest -q --wall $(WALL_SUNDAY_OPEN) $(SUNDAY_OPEN_SUITES)

# The rule book: every case of tests/rules/, and every rule of topstep.yaml must fire in one.
ruletest: setup
	$(BIN)/simple-risk rules test tests/rules --coverage

# Mutants of topstep.yaml (a flipped comparison, a threshold moved, an action dropped, a
# duration halved ...): fails unless the rule tests catch every one.
mutation: setup
	$(BIN)/python tests/mutation/run.py

## The whole test suite, as CI runs it.
# The compiled copy is built in the background while the checks and the first suites run (the
# build is one core's work for about a minute, the suites mostly wait on daemons and sockets);
# its log is printed when it is needed, and a failed build fails the run there. The main pass
# runs beside the wall-clock passes for the same reason (two processes that mostly wait, on a
# 2-core machine); its output is kept in build/pytest.log and printed when it ends.
test: setup
	@mkdir -p build; \
	$(BIN)/python -m bench.compiled --into $(COMPILED) > build/compiled.log 2>&1 & building=$$!; \
	trap 'kill $$building $$mainpass 2>/dev/null || true' EXIT; \
	$(MAKE) --no-print-directory lint typecheck || exit $$?; \
	echo "the main pass runs beside the wall-clock passes (its output: build/pytest.log)"; \
	$(MAKE) --no-print-directory pytest > build/pytest.log 2>&1 & mainpass=$$!; \
	$(MAKE) --no-print-directory wallclock; walled=$$?; \
	wait $$mainpass; main=$$?; echo "the main pass (build/pytest.log):"; cat build/pytest.log; \
	[ $$walled -eq 0 ] && [ $$main -eq 0 ] || exit 1; \
	$(MAKE) --no-print-directory ruletest mutation || exit $$?; \
	echo "waiting for the compiled copy (build/compiled.log)"; \
	wait $$building; built=$$?; cat build/compiled.log; [ $$built -eq 0 ] || exit $$built; \
	$(MAKE) --no-print-directory compiled-suites

# The compiled engine (mypyc; pyproject's mypyc hook lists the modules), built in a copy of
# the project (build/compiled) so that no compiled module ever shadows the sources here.
COMPILED = build/compiled
compiled: setup
	$(BIN)/python -m bench.compiled --into $(COMPILED)

# The engine's own suites (the rule book, the oracle, incremental = full) on the compiled engine.
test-compiled: compiled
	$(MAKE) --no-print-directory compiled-suites

# The same on the copy as it is built (`make test` builds it in the background).
compiled-suites: setup
	cd $(COMPILED) && SIMPLE_RISK_COMPILED=1 PYTHONPATH=. $(abspath $(BIN))/python -c \
	  "import simple_risk.engine.engine as e; assert e.__file__.endswith('.so'), e.__file__"
	cd $(COMPILED) && SIMPLE_RISK_COMPILED=1 PYTHONPATH=. HYPOTHESIS_PROFILE=compiled \
	  $(abspath $(BIN))/pytest -q -p no:cacheprovider tests/engine tests/oracle tests/rules
	# the same firings and snapshot on the seeded day as the pure engine, bit for bit
	$(BIN)/python -m bench.digest > build/digest-pure.txt
	cd $(COMPILED) && PYTHONPATH=. $(abspath $(BIN))/python -m bench.digest > $(abspath build)/digest-compiled.txt
	diff build/digest-pure.txt build/digest-compiled.txt && cat build/digest-compiled.txt

bench-compiled: compiled
	cd $(COMPILED) && PYTHONPATH=. $(abspath $(BIN))/python bench/engine.py --quick

# A wheel with the compiled engine, for deployment (needs a C compiler and Python's headers);
# built from a clean export of HEAD so the working tree never receives compiled modules.
wheel-compiled: setup
	rm -rf build/wheel-src && mkdir -p build/wheel-src dist
	git archive HEAD | tar -x -C build/wheel-src
	cd build/wheel-src && HATCH_BUILD_HOOK_ENABLE_MYPYC=true \
	  $(abspath $(BIN))/python -m pip wheel -q --no-deps -w $(abspath dist) .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
