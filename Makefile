# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test rehearse bench bench-concurrency bench-upload synth clean qemu-img

$(STAMP): requirements.txt requirements-front.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3: no upgrade it would undo
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

# Data lives in .run/state (LOCAL_STATE_DIR moves it); `make run RESET=1` starts empty.
run: $(STAMP)
	$(if $(RESET),LOCAL_RESET=$(RESET) )$(BIN)/python -m infra.local.run

# The data tests build real images with qemu-img (Debian's qemu-utils).
qemu-img:
	@command -v qemu-img >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq qemu-utils >/dev/null; } \
		|| { echo "qemu-img is needed: install the qemu-utils package" >&2; exit 1; }

# Two pytest-xdist workers (the machine's two cores): tests/infra on one of them, every other test spread
# one by one (tests/xdist_groups.py); the IAM check judges all workers' calls. `pytest -q` alone runs serially.
test: $(STAMP) qemu-img
	$(BIN)/mypy --strict chalicelib
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

# The deploy rehearsal alone (it is also part of `make test`): the synthesized stack created by the
# emulator's CloudFormation, checked against what the code expects, then smoke-tested (tests/infra/rehearsal/).
rehearse: $(STAMP)
	$(BIN)/python -m pytest -q tests/infra/rehearsal

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Issue 13's parallel workload against `make run` in a child process, then again with 10% emulator faults.
bench-concurrency: $(STAMP)
	$(BIN)/python bench/concurrency.py

# Issue 15: 2 GiB through `glance image-upload` into `make run` in a child process: MiB/s and peak RSS.
bench-upload: $(STAMP)
	$(BIN)/python bench/upload.py

# The CloudFormation template, offline, into cdk.out/ (the code asset holds the app without its
# third-party packages: `cdk deploy` packages for real). cfn-lint runs on it; cdk-nag runs in the synth.
SYNTH_CONTEXT ?= {"app_only_package": true}
synth: $(STAMP)
	rm -rf cdk.out
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 CDK_OUTDIR=cdk.out \
		CDK_CONTEXT_JSON='$(SYNTH_CONTEXT)' $(BIN)/python infra/cdk_app.py
	$(BIN)/cfn-lint cdk.out/*.template.json
	@ls cdk.out/*.template.json

clean:
	rm -rf $(VENV) .pytest_cache cdk.out chalice.out
