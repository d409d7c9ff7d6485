# stowpath: one command to set up, one to demo, one to test.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
# The controller push state directory ("" = the default: /var/lib/stowpath/controller, ~/.local/state/stowpath).
STATE_DIR ?=
BIN   := $(VENV)/bin
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

# Debian packages the lab and the tests run for real (see README "What runs where").
APT_PACKAGES := strongswan-swanctl strongswan-charon charon-systemd libcharon-extra-plugins \
  libstrongswan-extra-plugins libstrongswan-standard-plugins frr frr-pythontools nftables openssh-server openssh-client \
  iproute2 iputils-ping traceroute tcpdump orthanc orthanc-dicomweb nginx-light curl openssl \
  netconfd sshpass procps psmisc python3-venv \
  prometheus prometheus-alertmanager prometheus-node-exporter prometheus-frr-exporter prometheus-blackbox-exporter dcmtk

.PHONY: setup apt venv collections demo test lint unit lab-up lab-down lab-status bench render lock clean ee

setup: apt venv collections ## everything a fresh Debian 12 needs, then verified
	@echo "stowpath: setup complete (ansible-core $$($(PY) -c "import ansible.release as r; print(r.__version__)"))"

# Services Debian enables and starts when these packages are installed: the lab runs its own copies inside
# network namespaces, so on the host they are disabled and stopped through systemd (nothing new listens on the
# host). Never through /etc/init.d: its scripts stop daemons by executable name, the lab's included.
HOST_SERVICES := nginx orthanc frr strongswan-starter strongswan charon-systemd netconfd prometheus \
  prometheus-alertmanager prometheus-node-exporter prometheus-frr-exporter prometheus-blackbox-exporter

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "stowpath: installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@for s in $(HOST_SERVICES); do \
	  systemctl disable -q $$s.service >/dev/null 2>&1 || true; \
	  systemctl stop $$s.service >/dev/null 2>&1 || true; \
	done

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
	$(BIN)/ansible-playbook playbooks/monitor-site.yml -i inventories/lab
	@echo "stowpath demo: monitoring of the lab facility: Prometheus http://169.254.250.13:9090 (alerts: /alerts),"
	@echo "  Alertmanager http://169.254.250.13:9093, alert log (the lab's webhook receiver) /srv/stowpath-lab/mon/alerts.jsonl"

bench: lab-up ## benchmarks: print figures (no assertions)
	$(PY) bench/lab_bench.py
	$(PY) bench/onboard_bench.py
	$(PY) bench/stow_bench.py
	$(PY) bench/stow_bench.py --parallel 1,4,8 --rounds 2
	$(PY) bench/vendor_bench.py --repeat 3
	$(PY) bench/transfer_bench.py
	$(PY) bench/diagnose_bench.py
	$(PY) bench/render_bench.py
	@# last: they rebuild the lab with a fleet, then without (the lab facility is no longer onboarded);
	@# and 99 gateways, the largest fleet the lab builds (a 100-gateway figure is asked for)
	$(PY) bench/drift_bench.py --fleet 30 --rounds 3
	$(PY) bench/drift_bench.py --fleet 99 --rounds 1

# AWX / Ansible Automation Platform execution environment: the build context in build/ee/context
# (no container engine needed; then `podman build -t REGISTRY/stowpath-ee:TAG build/ee/context`).
ee: venv
	rm -rf build/ee && mkdir -p build/ee/src
	cp -rL collections/ansible_collections/stowpath/core build/ee/src/core
	$(BIN)/ansible-galaxy collection build --output-path build/ee/dist build/ee/src/core
	cp build/ee/dist/stowpath-core-*.tar.gz build/ee/stowpath-core.tar.gz
	$(BIN)/ansible-builder create --file execution-environment.yml --context build/ee/context --output-filename Containerfile
	@echo "stowpath: execution environment build context in build/ee/context"

lock:
	rm -rf /tmp/stowpath-lock && python3 -m venv /tmp/stowpath-lock
	/tmp/stowpath-lock/bin/pip install -q -r requirements.in
	/tmp/stowpath-lock/bin/pip freeze --exclude-editable > requirements.lock

# Never the push state (locks, journals, last-applied records): it lives outside the checkout
# (stowpath_state_dir; /var/lib/stowpath/controller or ~/.local/state/stowpath) and only backups/ drift copies go here.
clean:
	rm -rf build reports backups .pytest_cache

# ---- the lab (network namespaces on this machine; see lab/README.md) ----
FLEET ?= 0
# the cloud the lab plays: aws (default) | azure | gcp (lab/README.md)
CLOUD ?= aws
LAB_STATE ?= $(or $(STOWPATH_LAB_STATE),/run/stowpath-lab)
lab-up: setup
	$(PY) lab/lab.py up --fleet $(FLEET) --cloud $(CLOUD)
	$(PY) lab/vendor/netconf_iosxe.py start --port 8830 --state-dir $(LAB_STATE)/vendor/netconf-iosxe \
	  --known-hosts $(LAB_STATE)/ssh/known_hosts
	$(PY) lab/vendor/iosxe_sim.py start --port 8022 --state-dir $(LAB_STATE)/vendor/iosxe-sim \
	  --known-hosts $(LAB_STATE)/ssh/known_hosts

# `lab.py down` stops the simulators recorded in the global lab state too (whichever checkout started them)
lab-down:
	@# the simulated routers start empty on the next lab-up: their own journal and last-applied records in the push
	@# state go (by inventory_hostname); the state directory itself and every other device's records are kept
	-@if [ -x $(PY) ]; then $(PY) -c "import sys; sys.path.insert(0, 'collections'); \
	  from ansible_collections.stowpath.core.plugins.module_utils.transports.state import forget; \
	  forget('$(STATE_DIR)' or None, ['iosxe-cli', 'iosxe-netconf'])"; fi
	@if [ -x $(PY) ]; then $(PY) lab/lab.py down; else python3 lab/lab.py down; fi

lab-status:
	@if [ -x $(PY) ]; then $(PY) lab/lab.py status; else python3 lab/lab.py status; fi
