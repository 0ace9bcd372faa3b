# Huabian Live — `make help` lists the targets.
GO       ?= go
BIN      ?= bin/huabian
FUZZTIME ?= 10s
# Packages with fuzz targets (FuzzXxx functions).
FUZZ_PKGS := $(shell grep -rl --include='*_test.go' '^func Fuzz' internal | xargs -n1 dirname | sort -u)

.PHONY: help run build test unit e2e fuzz fuzz-long bench deps vet fmt tidy-check

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

run: build ## build and run the server with defaults (RTMP :1935, HTTP :8080, data in ./data)
	./$(BIN) serve

build: ## build bin/huabian
	$(GO) build -o $(BIN) ./cmd/huabian

test: deps vet ## everything CI runs: unit tests (-race), short fuzzing, end-to-end with ffmpeg
	$(GO) test -race -count=1 ./...
	$(MAKE) fuzz FUZZTIME=$(FUZZTIME)

unit: ## unit tests only (no ffmpeg needed)
	$(GO) test -race -count=1 -short ./...

e2e: deps ## end-to-end tests with real ffmpeg/ffprobe only
	$(GO) test -race -count=1 -v ./test/e2e/

fuzz: ## run every fuzz target for FUZZTIME (default 10s each)
	@for pkg in $(FUZZ_PKGS); do \
	  for f in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    GO=$(GO) scripts/fuzz-one.sh $$pkg $$f $(FUZZTIME) || exit 1; \
	  done; \
	done

fuzz-long: ## fuzz every target for 10 minutes
	$(MAKE) fuzz FUZZTIME=10m

bench: ## Go micro-benchmarks (hub fan-out, FLV muxing)
	$(GO) test -run='^$$' -bench=. -benchmem ./internal/...

deps: ## install ffmpeg (and chromium for browser tests) when missing
	@./scripts/deps.sh

vet: ## go vet and gofmt check
	$(GO) vet ./...
	@test -z "$$(gofmt -l cmd internal test)" || (gofmt -l cmd internal test; echo "gofmt needed"; exit 1)

tidy-check: ## go.mod/go.sum are tidy
	$(GO) mod tidy -diff
