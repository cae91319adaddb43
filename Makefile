# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test fuzz bench bench-quick clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bm3d,cluster,web]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/imagewizard demo -o demo-output

test: $(STAMP)
	$(PY) -m pytest

# Long fuzzing (minutes): the property tests with many random examples, the reliability cases, then
# the corpus fuzzer: mutated files of every format through the CLI and the API (FUZZ_CASES, FUZZ_SEED).
fuzz: $(STAMP)
	IMAGEWIZARD_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(PY) -m pytest -q tests/test_fuzz_props.py tests/test_reliability.py
	$(PY) -m fuzz --cases $${FUZZ_CASES:-6000} --seed $${FUZZ_SEED:-1} --report fuzz-report.json --keep fuzz-failures

bench: $(STAMP)
	$(PY) benchmarks/suites/run_bench.py

bench-quick: $(STAMP)
	$(PY) benchmarks/suites/run_bench.py --quick

clean:
	rm -rf $(VENV) demo-output build *.egg-info src/*.egg-info
