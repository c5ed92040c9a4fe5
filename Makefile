# The README's test command is `make test`; .ci/run calls it.
GO        ?= go
PKG       := github.com/crashguard/crashguard_exporter
VERSION   := $(shell cat VERSION)
REVISION  := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -X github.com/prometheus/common/version.Version=$(VERSION) \
             -X github.com/prometheus/common/version.Revision=$(REVISION) \
             -X github.com/prometheus/common/version.Branch=$(BRANCH) \
             -X github.com/prometheus/common/version.BuildUser=$(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null || echo unknown) \
             -X github.com/prometheus/common/version.BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

.PHONY: all build run test unit attack lint vet fmt-check tools check-rules test-rules test-e2e bench fuzz update-golden update-prometheusrule

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o crashguard_exporter ./cmd/crashguard_exporter

# Run on this host with defaults.
run: build
	./crashguard_exporter

# Everything CI runs: formatting, vet, the race-enabled unit and golden
# end-to-end tests, and the rules checks with the pinned promtool.
test: lint check-rules test-rules unit

lint: fmt-check vet
	@if git grep -n '"os/exec"' -- '*.go' ':!*_test.go' ':!tools/*' ':!scripts/*'; then \
		echo "non-test code must not execute external programs"; exit 1; fi

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The attack suite drives the real binary from outside; its own process
# gains nothing from the race detector, which would only slow its
# thousands of scrapes down, so it runs without it.
unit: tools
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /attack$$)
	$(MAKE) attack

attack:
	$(GO) test -count=1 ./attack

tools:
	./scripts/install-tools.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

update-golden:
	$(GO) test ./cmd/crashguard_exporter -run TestGolden -update

# The alerting bundle: rule syntax and promtool unit tests with the pinned
# promtool. The e2e package (part of `unit`) runs the real Prometheus and
# Alertmanager against the exporter; test-e2e runs it alone.
check-rules: tools
	.tools/bin/promtool check rules rules/*.rules.yml

test-rules: tools
	.tools/bin/promtool test rules rules/tests/*.test.yml

test-e2e: tools
	$(GO) test -count=1 -v ./e2e/

# Rewrite deploy/kubernetes/prometheusrule.yaml from rules/.
update-prometheusrule:
	$(GO) test ./e2e -run TestPrometheusRule -update
