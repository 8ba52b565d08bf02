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
LDFLAGS := -X main.Version=$(VERSION) \
	-X main.Commit=$(COMMIT) \
	-X main.BuildTime=$(BUILD_TIME)

TEST_TIMEOUT ?= 30m
FUZZTIME ?= 30s
FUZZ_PKGS ?= ./...
SOAK_DURATION ?= 10m
SOAK_TIMEOUT ?= 60m

# The Dendrite homeserver the end-to-end tests run (internal/testkit/dendrite
# reads this variable; the `dendrite` target fills the directory).
export WALKIE_DENDRITE_BIN_DIR ?= $(CURDIR)/.cache/bin

# The LiveKit SFU the live-mode tests run (internal/testkit/livekit reads
# this variable; the `livekit` target builds the binary there), and the
# release tools/livekit/go.mod pins.
export WALKIE_LIVEKIT_BIN_DIR ?= $(CURDIR)/.cache/bin
LIVEKIT_VERSION := 1.13.5
LIVEKIT_BIN := $(WALKIE_LIVEKIT_BIN_DIR)/livekit-server

# The lint tools (staticcheck, deadcode), pinned by tools/lint/go.mod and
# installed here by the `lint-tools` target.
LINT_BIN_DIR ?= $(CURDIR)/.cache/bin
# Build tags lint also reads: the soak tests live behind `soak`, and no file
# is excluded by it, so vet, staticcheck and deadcode see every file.
LINT_TAGS ?= soak
# The modules whose go.mod and go.sum must be tidy: every go.mod in the tree
# (today ., e2e/tools, tools/lint and tools/livekit), testdata aside.
LINT_MODULES ?= $(shell find . \( -name .git -o -path ./.cache -o -path ./bin -o -name testdata \) \
	-prune -o -name go.mod -printf '%h\n' | sort)
# Every check `lint` runs; each is a target of its own (`make lint-vet`).
LINT_CHECKS := lint-gofmt lint-vet lint-shell lint-staticcheck lint-deadcode \
	lint-tidy lint-cross

# The test tooling that starts PostgreSQL, Dendrite, LiveKit, a network
# namespace, a walkie process or Chromium: `unit` leaves out every package
# whose test binary imports one of these, directly or not. (The rest of the
# test kit, such as timers and roomevents, starts nothing.)
TESTKIT_RE := ^$(MODULE)/internal/testkit/(pg|pgtest|dendrite|stack|walkieproc|browser|livekit|netns|lkpeer)(/|$$)
# The packages that have tests and whose tests import none of that tooling.
# `go list -test` lists one `<pkg>.test` main per package with tests; its
# Deps are everything the test binary links, so an import of the tooling
# through a helper package counts too.
UNIT_PKGS_CMD = $(GO) list -test -f '{{.ImportPath}} {{join .Deps " "}}' ./... | \
	awk -v re='$(TESTKIT_RE)' '$$1 ~ /\.test$$/ { \
		sub(/\.test$$/, "", $$1); \
		for (i = 1; i <= NF; i++) if ($$i ~ re) next; \
		print $$1 }'
UNIT_FLAGS ?=

.PHONY: build test unit dendrite livekit lint lint-tools $(LINT_CHECKS) fuzz demo soak clean

## build: every command under cmd/ into bin/ (bin/walkie, bin/walkie-bench, ...)
build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ ./cmd/...

## test: vet and the whole test suite (needs PostgreSQL; see internal/testkit/pgtest)
test: dendrite livekit
	$(GO) vet ./...
	$(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

## unit: the fast loop: `go test -short` on the packages whose tests start
## neither PostgreSQL nor Dendrite nor walkie nor Chromium, i.e. whose test
## binaries do not import internal/testkit/{pg,pgtest,dendrite,stack,walkieproc,browser}. Today
## among them: internal/floor, internal/matrix, internal/config. Extra go
## test flags go in UNIT_FLAGS (make unit UNIT_FLAGS='-run Queue -v').
unit:
	@pkgs=$$($(UNIT_PKGS_CMD)); \
	if [ -z "$$pkgs" ]; then echo "unit: no package found" >&2; exit 1; fi; \
	echo "unit: "$$pkgs; \
	$(GO) test -short $(UNIT_FLAGS) $$pkgs

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

## livekit: the LiveKit SFU for the live-mode tests, pinned by tools/livekit/go.mod.
## Built only when missing or not the pinned release (a cold build takes
## minutes and about 1 GB of memory); pure Go, so CGO_ENABLED=0.
livekit:
	@if [ -x "$(LIVEKIT_BIN)" ] && \
		[ "$$("$(LIVEKIT_BIN)" --version 2>/dev/null)" = "livekit-server version $(LIVEKIT_VERSION)" ]; then \
		exit 0; \
	fi; \
	echo "livekit: building livekit-server $(LIVEKIT_VERSION) into $(LIVEKIT_BIN)"; \
	mkdir -p "$(WALKIE_LIVEKIT_BIN_DIR)"; \
	tmp="$(LIVEKIT_BIN).tmp-$$$$"; \
	trap 'rm -f "$$tmp"' EXIT; \
	cd tools/livekit && CGO_ENABLED=0 GOWORK=off $(GO) build -trimpath -o "$$tmp" \
		github.com/livekit/livekit-server/cmd/server; \
	mv "$$tmp" "$(LIVEKIT_BIN)"

## lint: every check below, all of them even when one fails; then fails if any did.
## Installs staticcheck and deadcode first (pinned by tools/lint/go.mod).
lint: lint-tools
	@failed=; \
	for check in $(LINT_CHECKS); do \
		$(MAKE) --no-print-directory LINT_TOOLS_READY=1 "$$check" || failed="$$failed $$check"; \
	done; \
	if [ -n "$$failed" ]; then echo "lint: failed:$$failed" >&2; exit 1; fi; \
	echo "lint: all checks passed"

## lint-tools: staticcheck and deadcode into LINT_BIN_DIR, from the module proxy
lint-tools:
	cd tools/lint && GOBIN="$(LINT_BIN_DIR)" $(GO) install tool

# The gofmt of the Go toolchain that GO runs.
GOFMT ?= $(shell $(GO) env GOROOT)/bin/gofmt
# The files lint reads: everything but version control, caches and build output.
LINT_FIND = find . \( -name .git -o -path ./.cache -o -path ./bin \) -prune -o -type f

## lint-gofmt: gofmt -l lists nothing
lint-gofmt:
	@echo "gofmt -l"; \
	unformatted=$$($(LINT_FIND) -name '*.go' -print0 | xargs -0 -r "$(GOFMT)" -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt -l lists:"; echo "$$unformatted"; exit 1; fi

## lint-vet: go vet on every package
lint-vet:
	$(GO) vet -tags '$(LINT_TAGS)' ./...

## lint-shell: bash -n on every shell script (*.sh, or a #! line naming sh or bash)
lint-shell:
	@status=0; \
	while IFS= read -r -d '' file; do \
		first=; IFS= read -r first < "$$file" || true; \
		case "$$file" in *.sh) ;; *) [[ "$$first" =~ ^\#!.*[/\ ](ba|da)?sh([[:space:]]|$$) ]] || continue ;; esac; \
		echo "bash -n $$file"; \
		bash -n "$$file" || status=1; \
	done < <($(LINT_FIND) ! -name '*.go' -print0); \
	exit $$status

# `lint` installs the tools once and then sets LINT_TOOLS_READY for its checks.
## lint-staticcheck: staticcheck with its default checks
lint-staticcheck: $(if $(LINT_TOOLS_READY),,lint-tools)
	"$(LINT_BIN_DIR)/staticcheck" -tags '$(LINT_TAGS)' ./...

## lint-deadcode: functions that neither a command nor a test reaches (deadcode -test)
lint-deadcode: $(if $(LINT_TOOLS_READY),,lint-tools)
	@out=$$("$(LINT_BIN_DIR)/deadcode" -test -tags '$(LINT_TAGS)' ./...); \
	if [ -n "$$out" ]; then echo "deadcode -test reports unreachable functions:"; echo "$$out"; exit 1; fi

## lint-tidy: go mod tidy -diff shows nothing, for each module (LINT_MODULES)
lint-tidy:
	@status=0; \
	for module in $(LINT_MODULES); do \
		echo "go mod tidy -diff in $$module"; \
		(cd "$$module" && $(GO) mod tidy -diff) || status=1; \
	done; \
	exit $$status

## lint-cross: everything builds for macOS, and walkie for Windows
lint-cross:
	@status=0; \
	echo "GOOS=darwin go build ./..."; \
	GOOS=darwin $(GO) build ./... || status=1; \
	echo "GOOS=windows go build ./cmd/walkie"; \
	GOOS=windows $(GO) build -o /dev/null ./cmd/walkie || status=1; \
	exit $$status

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

## demo: the local end-to-end demo: the scripted conversation, then the web
## client until Ctrl-C (DEMO_FLAGS=-client-only skips the script;
## DEMO_FLAGS=-live runs LiveKit too and puts the room in live mode)
DEMO_FLAGS ?=
demo: dendrite $(if $(findstring -live,$(DEMO_FLAGS)),livekit)
	$(GO) run ./cmd/walkie-demo $(DEMO_FLAGS)

## soak: long-running tests, kept behind the `soak` build tag (TestSoak*, SOAK_DURATION each)
soak: dendrite
	WALKIE_SOAK_DURATION=$(SOAK_DURATION) $(GO) test -tags soak -count=1 -run '^TestSoak' \
		-timeout $(SOAK_TIMEOUT) ./...

clean:
	rm -rf bin .cache coverage.out coverage.html *.coverprofile
