# Two commands on a fresh clone:
#   make paper   # .venv -> package -> snakemake --cores all -> results/report/report.pdf
#   make test    # .venv (if missing) -> the whole test suite (lint, formatting, unit, DAG behaviour)
#   make claims  # the claims table of results/ in the terminal (after make paper; STUDY=gsnr for one study)
#   make gpu-check  # on a GPU machine: the device check of study 002's GPU path (docs/slurm-and-gpu.md)
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# On a CPU-only machine install this torch before the package so pip never resolves a CUDA build.
# Elsewhere point TORCH_INDEX at a wheel index, e.g. https://download.pytorch.org/whl/cpu or .../cu124.
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
TEX_PACKAGES := texlive-latex-base texlive-latex-recommended lmodern latexmk poppler-utils
CORES ?= all
STUDY ?=

GPU_CHECK_OUT ?= benchmarks/results/gpu_check
GPU_CHECK_DEVICE ?= cuda

.PHONY: paper test claims venv tex clean gpu-check

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || \
		$(PY) -m pip install "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -e ".[test]"
	touch $@

# TeX for the PDF: installed where we can (root on Debian/Ubuntu); otherwise the DAG stops at the .tex.
tex:
	@if command -v latexmk >/dev/null; then exit 0; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing TeX: $(TEX_PACKAGES)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEX_PACKAGES) >/dev/null; \
	else \
		echo "No TeX engine: building results/report/report.tex only. For the PDF run:"; \
		echo "  sudo apt-get install $(TEX_PACKAGES)"; \
	fi

paper: venv tex
	$(VENV)/bin/snakemake --cores $(CORES)
	@test -f results/report/report.pdf && echo "Report: results/report/report.pdf" || echo "Report source: results/report/report.tex"

test: venv
	$(PY) -m pytest

claims: venv
	$(PY) -m scaledyn.report claims $(if $(STUDY),--study $(STUDY))

# The device check of study 002's GPU path (benchmarks/gpu_check.py): <= 8 min on one GPU, no network;
# check.json and summary.txt under GPU_CHECK_OUT. GPU_CHECK_DEVICE=cpu runs its plumbing at a reduced size.
gpu-check: venv
	$(PY) benchmarks/gpu_check.py --device $(GPU_CHECK_DEVICE) --out $(GPU_CHECK_OUT)

clean:
	rm -rf results .snakemake
