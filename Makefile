# fleetsre: `make demo` runs the demo, `make test` the whole suite; both install what they need.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test bench lint alertmanager chromium clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# the CPU build of torch first (it lies on this machine's disk): a bare torch requirement pulls a multi-GB CUDA build
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,embeddings]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/fleetsre demo

# The end-to-end tests drive a real Alertmanager (Debian package prometheus-alertmanager).
alertmanager:
	@command -v prometheus-alertmanager >/dev/null 2>&1 || { \
	  echo "installing prometheus-alertmanager (Debian package)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager >/dev/null; }

# The dashboard tests drive a real headless Chromium (Debian package chromium) through Playwright;
# Playwright never downloads a browser of its own.
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing chromium (Debian package)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: $(BIN)/.installed
	$(BIN)/ruff check engine serve clusters tests benchmarks

test: $(BIN)/.installed alertmanager chromium lint
	$(BIN)/pytest -q

# Every benchmark of benchmarks/ (tables on stdout, JSON in benchmarks/results/); QUICK=1 for small sizes.
bench: $(BIN)/.installed alertmanager
	$(BIN)/python -m benchmarks $(if $(QUICK),--quick,) $(BENCH)

clean:
	rm -rf $(VENV) fleetsre-data .pytest_cache
