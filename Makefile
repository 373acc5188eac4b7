# cashpool — `make help` lists the targets.
GO ?= go
# Benchmarks and soak runs take their size from these.
BENCHTIME ?= 1x
SOAK ?= 200
NIGHT ?= 100000

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

.PHONY: run
run: ## the sample night: throwaway PostgreSQL + built-in Alpaca simulator + fixtures/
	$(GO) run ./cmd/cashpool demo

.PHONY: console
console: ## the sample night, then serve on it: the operator console on CASHPOOL_HTTP_ADDR (default 127.0.0.1:8080) until Ctrl-C
	$(GO) run ./cmd/cashpool demo --serve

# One static binary (no cgo: it runs on any Linux, and in an image with no C library) with no
# build machine's paths in it, stamped with its commit for `cashpool version` (-buildvcs=auto
# overrides a GOFLAGS that turns stamping off; outside a clone there is nothing to stamp).
# The Dockerfile's build stage runs this same command; a test in deploy/ holds them together.
.PHONY: build
build: ## build bin/cashpool, statically linked
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o bin/cashpool ./cmd/cashpool

IMAGE ?= cashpool:dev

# The first of docker, podman, buildah that is installed and answers builds the image; none is not
# a silent success.
.PHONY: image
image: ## container image IMAGE (default cashpool:dev) from the Dockerfile, with docker, podman or buildah
	@for b in docker podman buildah; do \
		command -v $$b >/dev/null 2>&1 || continue; \
		if $$b info >/dev/null 2>&1; then echo "$$b build -t $(IMAGE) ."; exec $$b build -t $(IMAGE) .; fi; \
		echo "make image: $$b is installed but does not answer ($$b info failed: is its engine running?)" >&2; \
	done; \
	echo "make image: no working container image builder (docker, podman or buildah) is installed; make build builds bin/cashpool without one" >&2; \
	exit 1

.PHONY: test
test: ## every test (starts and stops its own PostgreSQL unless DATABASE_URL is set; installs what is missing, see .ci/test-deps)
	bash .ci/test-deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 9m ./...

# The night benchmark (./bench) runs apart: a whole night per size, far longer than go test's
# default timeout, and its table comes last.
.PHONY: bench
bench: ## benchmarks: split, ingest against plain COPY, broker calls; then whole nights of 100k and 1M journals
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -benchmem $$($(GO) list ./... | grep -v '/bench$$')
	bash bench/hugepages $(GO) test -run '^$$' -bench '^BenchmarkNight$$' -benchtime 1x -timeout 180m ./bench

.PHONY: bench-night
bench-night: ## the night benchmark for one size: NIGHT journals (default 100000)
	bash bench/hugepages $(GO) test -run '^$$' -bench '^BenchmarkNight$$' -benchtime 1x -timeout 180m ./bench -night.journals $(NIGHT)

.PHONY: fuzz
fuzz: ## run each parser's fuzz target for a minute
	$(GO) test ./batch/ingest -run '^$$' -fuzz FuzzReceipts -fuzztime 60s
	$(GO) test ./batch/ingest -run '^$$' -fuzz FuzzAllocations -fuzztime 60s
	$(GO) test ./batch/ingest -run '^$$' -fuzz FuzzRewards -fuzztime 60s
	$(GO) test ./bank/bai2 -run '^$$' -fuzz FuzzRead -fuzztime 60s
	$(GO) test ./bank/camt -run '^$$' -fuzz FuzzRead -fuzztime 60s
	$(GO) test ./alpaca -run '^$$' -fuzz FuzzDecodeEvent -fuzztime 60s
	$(GO) test ./alpaca -run '^$$' -fuzz FuzzDecodeBatchAnswer -fuzztime 60s
	$(GO) test ./alpaca/sandbox -run '^$$' -fuzz FuzzDecodeBatch -fuzztime 60s

.PHONY: soak
soak: ## crash harness: SOAK nights (default 200), killing cashpool at failpoints with broker faults on
	$(GO) test -count=1 -timeout 60m ./batch/crash -run TestSoak -v -soak.n $(SOAK) 2>&1 | grep -E '^(=== NAME|--- FAIL|FAIL|ok|PASS)|soak:|seed [0-9]+:'
