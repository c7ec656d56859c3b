# handoff: see README.md. `make run` and `make test` do all set-up on a fresh
# machine with Go; the other targets are for people working on handoff.

GO          ?= go
GOFMT       ?= gofmt
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
PORT        ?= 11211
FUZZTIME    ?= 30s
DURATION    ?= 10m
BENCHTIME   ?= 1s

.PHONY: run test unit lint crossvet model spec compat difffuzz bench syscalls lincheck fuzz mutants soak deps mcsuite

# handoffd, the memcached-compatible server, in the foreground on 127.0.0.1:$(PORT);
# Ctrl-C stops it gracefully. Built first, so Ctrl-C reaches handoffd itself rather than go run.
run:
	$(GO) build -o bin/handoffd ./impl/cmd/handoffd
	./bin/handoffd -l 127.0.0.1 -p $(PORT) $$(test "$$(id -u)" = 0 && echo -u nobody)

# Everything CI runs (bash .ci/run).
test: deps lint unit model spec compat lincheck

deps:
	@bash scripts/need.sh spin spin
	@bash scripts/need.sh cc gcc
	@bash scripts/need.sh memcached memcached
	@bash scripts/need.sh nutcracker nutcracker
	@bash scripts/need.sh memccapable libmemcached-tools

# go vet and staticcheck over the main module, go vet over the gnet peer's
# module (./... stops at its go.mod), gofmt over both (a file gofmt would
# change fails the target and is named), go vet for the other systems
# (crossvet), and every seeded fault's patch still applying to the tree and
# building (scripts/mutants.sh -check, about a minute).
lint: crossvet
	$(GO) vet ./...
	cd bench/gnet && $(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	@unformatted=$$($(GOFMT) -l .); if [ -n "$$unformatted" ]; then \
		echo "gofmt -l: not gofmt'ed:"; echo "$$unformatted"; exit 1; fi
	bash scripts/mutants.sh -check

# go vet of both modules for each GOOS in CROSS_OS, so that code which builds
# only on Linux says so with a build constraint rather than breaking the
# build elsewhere. Runs every OS and fails at the end if any failed.
CROSS_OS ?= darwin freebsd windows
crossvet:
	@rc=0; for os in $(CROSS_OS); do \
		echo "GOOS=$$os go vet ./..."; GOOS=$$os $(GO) vet ./... || rc=1; \
		echo "GOOS=$$os go vet ./... (bench/gnet)"; (cd bench/gnet && GOOS=$$os $(GO) vet ./...) || rc=1; \
	done; exit $$rc

# The unit tests, then every package that serves connections a second time
# on the io_uring backend (HANDOFF_IO, which reactortest, handoffd's and the
# reliability daemons' tests and porcupine's plans read). The second run is
# without the race detector, to keep make test under 10 minutes on 2 cores:
# the backend's goroutines share no memory but the rings, the task list and
# the counters, which the first run covers.
URING_PKGS = ./impl/reactor/... ./impl/cmd/... ./linearizability/... ./reliability/... ./fuzz/...
unit:
	$(GO) test -race -count=1 -timeout 8m ./...
	HANDOFF_IO=uring $(GO) test -count=1 -timeout 8m $(URING_PKGS)

# Every design of the model at its default bounds; fails on an unexpected result.
model:
	$(GO) run ./model/cmd/modelcheck -table

# spin over every design of spec/dispatch.pml; fails on an unexpected result.
spec: deps
	bash spec/check.sh

# The transcripts marked "memcached" replayed byte for byte against Debian's
# memcached, so the protocol tests are checked against the system they copy,
# and the watch and stats conns checks made of memcached as of handoff;
# then the differential fuzzer's seeds, handoff and memcached in lockstep, and
# its broken twins, each of which it must refute.
COMPAT_PORT ?= 21299
MEMCACHED = memcached -U 0 -l 127.0.0.1 -p $(COMPAT_PORT) $$(test "$$(id -u)" = 0 && echo -u nobody) & pid=$$!; \
	for i in $$(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$(COMPAT_PORT)) 2>/dev/null && break; sleep 0.1; done
compat: deps
	@$(MEMCACHED); \
	MEMCACHED_ADDR=127.0.0.1:$(COMPAT_PORT) $(GO) test -count=1 -run 'TranscriptsAgainstMemcached|TestDifferential|TestWatch$$|TestStatsConns' ./impl/memcache/; rc=$$?; \
	kill $$pid; exit $$rc

# The differential fuzzer on fresh random seeds for DURATION (a failure
# prints its seed: replay it with -diff.seed).
DURATION ?= 10m
difffuzz: deps
	@$(MEMCACHED); \
	MEMCACHED_ADDR=127.0.0.1:$(COMPAT_PORT) $(GO) test -count=1 -timeout 0 -run 'TestDifferential$$' ./impl/memcache/ -diff.duration=$(DURATION); rc=$$?; \
	kill $$pid; exit $$rc

# memcached's own test suite, t/*.t of MCSRC (a checkout of memcached's
# repository at its tag 1.6.18, never copied here), against Debian's
# memcached and handoffd in one run, a file at a time; prints the table the
# README shows and fails if a file that passes on memcached fails on
# handoffd without a reason in scripts/mcsuite.expected. About 20 minutes.
MCSRC ?=
mcsuite: deps
	@test -n "$(MCSRC)" || { echo "make mcsuite MCSRC=DIR: DIR is a checkout of memcached at 1.6.18 (git clone https://github.com/memcached/memcached DIR && git -C DIR checkout 1.6.18)"; exit 2; }
	@bash scripts/need.sh prove perl
	$(GO) build -o bin/handoffd ./impl/cmd/handoffd
	bash scripts/mcsuite.sh $(MCSRC) bin/handoffd scripts/mcsuite.expected

# handoff side by side with the floor, Go net, memcached and gnet (docs/bench.svg);
# BENCH_QUICK=1 for a short run. BASELINE=<git revision> also runs handoffd
# built at that revision beside this tree's, in the same rounds, and ends the
# table with each design's cost as a ratio to the baseline's (before/after;
# scripts/bench.sh says how). `make gobench` runs the Go benchmarks alone.
BASELINE ?=
bench:
	$(if $(BASELINE),BENCH_BASELINE='$(BASELINE)') bash scripts/bench.sh

# System calls per request and per short connection of memcached and each
# handoffd backend, counted by perf (make bench runs it too, apart from its
# CPU figures).
syscalls:
	bash scripts/syscalls.sh

gobench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# Each fuzz target in turn for FUZZTIME; `make test` runs their seed corpora.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzModelSchedule$$' -fuzztime $(FUZZTIME) ./fuzz/
	$(GO) test -run '^$$' -fuzz '^FuzzReactorScript$$' -fuzztime $(FUZZTIME) ./fuzz/
	$(GO) test -run '^$$' -fuzz '^FuzzQueue$$' -fuzztime $(FUZZTIME) ./impl/reactor/
	$(GO) test -run '^$$' -fuzz '^FuzzCloseBeforeReuse$$' -fuzztime $(FUZZTIME) ./impl/reactor/
	$(GO) test -run '^$$' -fuzz '^FuzzParser$$' -fuzztime $(FUZZTIME) ./impl/memcache/

# porcupine over histories recorded from a live server; one line per check.
lincheck:
	$(GO) run ./linearizability/cmd/lincheck

# Each seeded fault (a patch in scripts/faults, applied to a scratch copy of
# the tree) against its verification layers: the reactor's against eight, the
# cache's and the daemon's against three with memcached as the oracle, the
# io_uring ring's against its own tests; fails
# unless a failing check caught every fault. About 24 minutes on 2 cores;
# `bash scripts/mutants.sh <fault> ...` runs a few.
mutants: deps
	bash scripts/mutants.sh

# Soak: handoffd under mixed load, connection churn and rotating faults for
# $(DURATION); fails if its memory, fds or threads trend upward. Draws soak.svg.
soak:
	$(GO) run ./reliability/cmd/soak -duration $(DURATION) -svg soak.svg
