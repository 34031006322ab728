# drivelab: `make demo` runs the main job, `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
STAMP := $(VENV)/.installed
KERNEL := $(VENV)/share/jupyter/kernels/drivelab/kernel.json

export PATH := $(abspath $(BIN)):$(PATH)
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true

.PHONY: setup demo test lab strip-notebooks params clean help bench bench-quick

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

setup: $(STAMP) $(KERNEL)  ## create or update .venv (seconds when nothing changed)

# Torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) torch==2.13.0
	# PYTHONWARNINGS: setuptools' banner about editable installs says nothing a user can act on.
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $(STAMP)

demo: setup  ## simulate -> prepare -> train -> evaluate through the DVC pipeline
	$(BIN)/python -m drivelab demo

test: setup  ## the test suite
	$(BIN)/python -m pytest --durations=15 $(PYTEST_ARGS)

bench: setup  ## every benchmark (full size), one table of ratios; docs/benchmarks.json + .md (BENCH_ARGS="--check docs/benchmarks.json")
	$(BIN)/python benchmarks/suite.py $(BENCH_ARGS)

bench-quick: setup  ## the same at the small size (~8 minutes on an idle 2-core machine)
	$(BIN)/python benchmarks/suite.py --quick $(BENCH_ARGS)

# The notebooks' kernel: this .venv's Python, registered inside .venv (works as root and needs no home folder).
$(KERNEL): $(STAMP)
	$(BIN)/python -m ipykernel install --sys-prefix --name drivelab --display-name "drivelab (.venv)"

PORT ?= 8888
IP ?= localhost
lab: setup  ## JupyterLab on the project's kernel (make lab PORT=8890 IP=0.0.0.0)
	$(BIN)/python -m jupyter lab --allow-root --notebook-dir=notebooks --MappingKernelManager.default_kernel_name=drivelab \
		--ServerApp.port=$(PORT) --ServerApp.ip=$(IP)

strip-notebooks: setup  ## remove outputs from notebooks/*.ipynb before committing them
	$(BIN)/python -m jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

params: setup  ## rewrite params.yaml from conf/ as `dvc exp run` does (for a plain `dvc repro`)
	$(BIN)/python -c "from dvc.utils.hydra import compose_and_dump as c; c('params.yaml', '$(abspath conf)', None, 'train', '.', [])"

clean:  ## remove the virtual environment
	rm -rf $(VENV)
