# Switchyard: set-up and everyday commands. `make demo` and `make test` work on a
# fresh Debian machine with the Swift toolchain: they install what is missing first.

SWIFT ?= swift
APT_PACKAGES := pkg-config libcurl4-openssl-dev libssl-dev libgit2-dev libsqlite3-dev libxml2-dev ripgrep bubblewrap curl git openssl python3 g++
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test deps peers build release bench format lint

## demo: build, triage examples/tickets.jsonl, show one ticket's trace and replay it (scripts/demo)
demo: deps
	SWIFT=$(SWIFT) scripts/demo

## test: run every test suite (the first run also installs the local model peer: seconds)
test: deps peers
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

## peers: what the tests drive, in .build/peers: the local model server (llama.cpp's server from xllamacpp + SmolLM2-135M) and MCP servers (the reference Python SDK, mcp-server-time)
peers: deps
	@python3 -m venv --help >/dev/null 2>&1 || $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
	Tests/Peers/model-server install
	Tests/Peers/mcp-servers install

## deps: install the Debian packages Switchyard needs, if any are missing
deps:
	@if command -v dpkg >/dev/null 2>&1; then \
		missing=""; \
		for package in $(APT_PACKAGES); do \
			dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
		done; \
		if [ -n "$$missing" ]; then \
			echo "Installing:$$missing"; \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		fi; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## bench: each benchmark against its reference (curl, rg, git, numpy, sqlite-vec, a bare Python loop)
bench: release .build/bench-venv/bin/python
	.build/release/switchyard-bench http
	.build/release/switchyard-bench decode
	.build/release/switchyard-bench trace
	.build/release/switchyard-bench tools
	.build/release/switchyard-bench vectors
	.build/release/switchyard-bench orchestrator
	.build/release/switchyard-bench loop

# The Python references of the vector benchmark.
.build/bench-venv/bin/python:
	python3 -m venv .build/bench-venv
	.build/bench-venv/bin/pip install --quiet numpy sqlite-vec apsw

format:
	$(SWIFT) format --in-place --recursive Package.swift Sources Tools Tests

lint:
	$(SWIFT) format lint --strict --recursive Package.swift Sources Tools Tests
