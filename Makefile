# refundbot — build, test and run targets.
#   make test                         Go tests (race detector) against Redis + PostgreSQL,
#                                     found or started by deploy/test.sh
#   make test ARGS='-run Dialog ./flows/...'
#   make run                          go run ./cmd/refundbot (sandbox)
#   make build                        bin/refundbot
#   make vet                          gofmt check + go vet
#   make bench                        benchmarks

# Go lives in /usr/local/go/bin on the project's machines; fall back to it.
export PATH := $(PATH):/usr/local/go/bin

GO   ?= go
ARGS ?=

.PHONY: test run build bench vet clean

.DEFAULT_GOAL := build

test:
	bash deploy/test.sh $(ARGS)

run:
	$(GO) run ./cmd/refundbot $(ARGS)

build:
	$(GO) build -o bin/refundbot ./cmd/refundbot

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

vet:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; \
		echo "$$unformatted"; \
		exit 1; \
	fi
	$(GO) vet ./...

clean:
	rm -rf bin
