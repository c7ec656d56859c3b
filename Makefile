# handoff: see README.md. `make run` and `make test` do all set-up on a fresh
# machine with Go; the other targets are for people working on handoff.

GO          ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PORT        ?= 11211
FUZZTIME    ?= 30s
BENCHTIME   ?= 1s

.PHONY: run test unit lint model spec bench lincheck fuzz mutants soak deps

# handoffd, the memcached-compatible server, in the foreground on 127.0.0.1:$(PORT);
# Ctrl-C stops it gracefully. Built first, so Ctrl-C reaches handoffd itself rather than go run.
run:
	$(GO) build -o bin/handoffd ./impl/cmd/handoffd
	./bin/handoffd -l 127.0.0.1 -p $(PORT)

# Everything CI runs (bash .ci/run).
test: deps lint unit model spec

deps:
	@bash scripts/need.sh spin spin
	@bash scripts/need.sh cc gcc

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

unit:
	$(GO) test -race -count=1 -timeout 8m ./...

# Every design of the model at its default bounds; fails on an unexpected result.
model:
	$(GO) run ./model/cmd/modelcheck -table

# spin over every design of spec/dispatch.pml; fails on an unexpected result.
spec: deps
	bash spec/check.sh

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...
