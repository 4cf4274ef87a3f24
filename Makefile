# The two commands that matter: `make demo` and `make test` (see README.md).
# Both create .venv on first use and install what they need; nothing else is
# required on the machine but Python 3.11/3.12 and make. `make demo` installs the
# package with its runtime dependencies (+ matplotlib for the plots) only; `make test`
# adds the test extras (torch, transformers, jax, moto, ...).

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
EXTRAS ?= test,parity,jax,sagemaker,notebooks,awstest
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
DEMO_STAMP := $(VENV)/.installed-demo
# a test environment holds everything the demo needs: do not install again
DEMO_DEPS := $(if $(wildcard $(STAMP)),$(STAMP),$(DEMO_STAMP))

# Demo overrides: make demo CORPUS='my/*.txt' SQUAD=dev-v2.0.json STEPS=2000
CORPUS ?=
SQUAD ?=
STEPS ?=
OUT ?= demo_output
PYTEST_ARGS ?=
# test processes (pytest-xdist): one per core of a 2-core CI machine; 0 runs in this process
TEST_JOBS ?= 2

export KERAS_BACKEND ?= tensorflow
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test lint venv clean docker

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	@touch $(STAMP)

$(DEMO_STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[demo]'
	@touch $(DEMO_STAMP)

venv: $(STAMP)

demo: $(DEMO_DEPS)
	$(PY) -m keras_electra.demo --output-dir $(OUT) \
		$(if $(CORPUS),--corpus '$(CORPUS)') \
		$(if $(SQUAD),--squad '$(SQUAD)') \
		$(if $(STEPS),--steps $(STEPS))

test: $(STAMP)
	$(PY) -m pytest $(if $(filter 0,$(TEST_JOBS)),,-n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder) $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check keras_electra tests benchmarks

docker:
	docker build -t keras-electra:latest .

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info .pytest_cache
