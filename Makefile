# stowpath: one command to set up, one to demo, one to test.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
BIN   := $(VENV)/bin
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

# Debian packages the lab and the tests run for real (see README "What runs where").
APT_PACKAGES := strongswan-swanctl strongswan-charon charon-systemd libcharon-extra-plugins \
  libstrongswan-extra-plugins libstrongswan-standard-plugins frr frr-pythontools nftables openssh-server openssh-client \
  iproute2 iputils-ping traceroute tcpdump orthanc orthanc-dicomweb nginx-light curl openssl \
  netconfd sshpass procps psmisc python3-venv

.PHONY: setup apt venv collections demo test lint unit lab-up lab-down lab-status bench render lock clean

setup: apt venv collections ## everything a fresh Debian 12 needs, then verified
	@echo "stowpath: setup complete (ansible-core $$($(PY) -c "import ansible.release as r; print(r.__version__)"))"

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "stowpath: installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(VENV)/.stamp: requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock
	touch $@

venv: $(VENV)/.stamp

collections: venv
	@out=$$($(BIN)/ansible-galaxy collection install --offline -r requirements.yml 2>&1); \
	echo "$$out" | grep -q "Nothing to do" || { echo "$$out"; echo "stowpath: collections in requirements.yml are not all installed"; exit 1; }
	@echo "stowpath: every collection in requirements.yml is present (ansible-galaxy: Nothing to do)"

render: setup ## render the example inventory into build/
	$(BIN)/ansible-playbook playbooks/render-site.yml -i inventories/example

lint: venv
	$(BIN)/ruff check plugins tests lab bench
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --offline --format=pep8 --nocolor

unit: venv ## the tests that need no lab
	$(BIN)/pytest -q -n 2 -m "not lab" tests

test: setup ## the test suite CI runs (.ci/run calls exactly this)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory lab-up
	@echo "== dry run (--check --diff) against every router of the lab inventory"
	mkdir -p build && $(BIN)/ansible-playbook playbooks/onboard-site.yml -i inventories/lab --check --diff > build/dry-run-lab.log \
	  || { tail -50 build/dry-run-lab.log; exit 1; }
	@grep -A8 "PLAY RECAP" build/dry-run-lab.log
	$(BIN)/pytest -q -n 2 -m "not lab" tests
	$(BIN)/pytest -q -m lab tests
	cd roles/gateway_push && $(CURDIR)/$(BIN)/molecule test

demo: lab-up ## onboard the lab facility end to end and print where the report is
	$(BIN)/ansible-playbook playbooks/onboard-site.yml -i inventories/lab
	@echo
	@echo "stowpath demo: lab facility onboarded. Report: $(CURDIR)/reports/lab-facility/report.html"
	@echo "  (also report.json / report.xml there; the DX facility: reports/lab-facility-dx/)"

bench: lab-up ## benchmarks: print figures (no assertions)
	$(PY) bench/lab_bench.py
	$(PY) bench/stow_bench.py
	$(PY) bench/vendor_bench.py --repeat 3
	$(PY) bench/drift_bench.py --fleet 30 --rounds 3

lock:
	rm -rf /tmp/stowpath-lock && python3 -m venv /tmp/stowpath-lock
	/tmp/stowpath-lock/bin/pip install -q -r requirements.in
	/tmp/stowpath-lock/bin/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf build reports backups .pytest_cache

# ---- the lab (network namespaces on this machine; see lab/README.md) ----
FLEET ?= 0
lab-up: setup
	$(PY) lab/lab.py up --fleet $(FLEET)
	$(PY) lab/vendor/netconf_iosxe.py start --port 8830
	$(PY) lab/vendor/iosxe_sim.py start --port 8022

lab-down:
	-@if [ -x $(PY) ]; then $(PY) lab/vendor/iosxe_sim.py stop; $(PY) lab/vendor/netconf_iosxe.py stop; fi
	@# the simulated routers start empty on the next lab-up (their saved configs and push records go)
	rm -rf .lab/vendor/iosxe-sim .lab/vendor/netconf-iosxe backups/push/127.0.0.1_*
	@if [ -x $(PY) ]; then $(PY) lab/lab.py down; else python3 lab/lab.py down; fi

lab-status:
	@if [ -x $(PY) ]; then $(PY) lab/lab.py status; else python3 lab/lab.py status; fi
