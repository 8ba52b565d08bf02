# Walkie's build, test and CI entry points. GNU make; recipes run in bash
# with -euo pipefail so a failing command in a pipeline fails the target.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := build

GO ?= go
MODULE := github.com/walkie-ptt/walkie

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_TIME ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X $(MODULE)/internal/app.Version=$(VERSION) \
	-X $(MODULE)/internal/app.Commit=$(COMMIT) \
	-X $(MODULE)/internal/app.BuildTime=$(BUILD_TIME)

TEST_TIMEOUT ?= 30m
FUZZTIME ?= 30s
FUZZ_PKGS ?= ./...
SOAK_DURATION ?= 10m
SOAK_TIMEOUT ?= 60m

# The Dendrite homeserver the end-to-end tests run (internal/testkit/dendrite
# reads this variable; the `dendrite` target fills the directory).
export WALKIE_DENDRITE_BIN_DIR ?= $(CURDIR)/.cache/bin

.PHONY: build test dendrite lint fuzz demo soak clean

## build: every command under cmd/ into bin/ (bin/walkie, bin/walkie-bench, ...)
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

## test: vet and the whole test suite (needs PostgreSQL; see internal/testkit/pgtest)
test: dendrite
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## dendrite: the homeserver binaries for the end-to-end tests, pinned by e2e/tools/go.mod
dendrite:
	@if [ ! -f e2e/tools/go.mod ]; then \
		echo "dendrite: e2e/tools/go.mod does not exist yet; not building the homeserver"; \
		exit 0; \
	fi; \
	echo "dendrite: installing into $(WALKIE_DENDRITE_BIN_DIR)"; \
	cd e2e/tools && GOBIN="$(WALKIE_DENDRITE_BIN_DIR)" $(GO) install \
		github.com/matrix-org/dendrite/cmd/dendrite \
		github.com/matrix-org/dendrite/cmd/generate-keys \
		github.com/matrix-org/dendrite/cmd/create-account

## lint: gofmt must list nothing; go vet; shell syntax; staticcheck when installed
lint:
	@unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@for script in .ci/run docker/run.sh; do bash -n "$$script"; done
	@if command -v staticcheck >/dev/null; then staticcheck ./...; \
	else echo "lint: staticcheck not installed; skipped"; fi

## fuzz: every Fuzz* function, one after the other, for FUZZTIME each
fuzz:
	@targets=$$($(GO) test -list '^Fuzz' $(FUZZ_PKGS) | awk ' \
		/^Fuzz/ { names[n++] = $$1 } \
		/^ok /  { for (i = 0; i < n; i++) print $$2, names[i]; n = 0 }'); \
	if [ -z "$$targets" ]; then echo "fuzz: no Fuzz* functions found"; exit 0; fi; \
	while read -r pkg name; do \
		echo "fuzz: $$name in $$pkg for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done <<< "$$targets"

## demo: the local end-to-end demo
demo: dendrite
	$(GO) run ./cmd/walkie-demo

## soak: long-running tests, kept behind the `soak` build tag (TestSoak*, SOAK_DURATION each)
soak: dendrite
	WALKIE_SOAK_DURATION=$(SOAK_DURATION) $(GO) test -tags soak -count=1 -run '^TestSoak' \
		-timeout $(SOAK_TIMEOUT) ./...

clean:
	rm -rf bin .cache coverage.out coverage.html *.coverprofile
