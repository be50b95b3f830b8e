# fluxgate — one Makefile; CI calls only its targets.
GO       ?= go
BIN      ?= bin
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X github.com/fluxgate/fluxgate/shared/buildinfo.Version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'
export CGO_ENABLED ?= 0

PREFIX  ?= /usr/local
DESTDIR ?=

.PHONY: all build run test race lint fuzz bench bench-micro deps clean

all: build

## build: the fluxgate binary and the demo/bench upstream, static
build:
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/fluxgate .
	$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/upstream ./bench/upstream

## run: build, start the demo upstream on 127.0.0.1:9090 and the gateway on :8080
run: build
	scripts/run.sh

## deps: install what the tests need (redis-server) when missing
deps:
	scripts/ensure-deps.sh

## test: lint, then every test (unit, fuzz seeds, end-to-end with real processes)
test: deps lint
	$(GO) test -count=1 -timeout 20m ./...

## race: the tests under the race detector (slower)
race: deps
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 30m ./...

## lint: gofmt, go vet and the package import rules
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	scripts/check-imports.sh

## fuzz: every fuzz target for a short fixed time
fuzz:
	scripts/fuzz.sh $${FUZZTIME:-20s}

## bench: throughput side by side with NGINX (loopback), markdown table in bench/results/
bench: build
	scripts/bench.sh

## bench-micro: go test benchmarks of the hot paths, benchstat-friendly
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -count $${COUNT:-5} ./worker/... | tee bench/results/micro-$$(date +%Y%m%d).txt

clean:
	rm -rf $(BIN)

# ---- install ---------------------------------------------------------------
# `make install` (as root) or `make install DESTDIR=/tmp/pkg` for packaging.
# The binary goes under PREFIX; the unit and the config follow the Debian
# layout whatever PREFIX is: /lib/systemd/system (where Debian packages put
# units; /usr/lib/systemd/system on merged-/usr systems is the same
# directory) and /etc/fluxgate. The unit's ExecStart is rewritten to
# $(PREFIX)/bin/fluxgate. An existing config.yaml is never overwritten;
# uninstall keeps it (like apt remove, not purge).
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system

.PHONY: install uninstall

## install: binary to $(DESTDIR)$(PREFIX)/bin, systemd unit, default config (kept if present)
install: build
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/fluxgate
	install -m 0755 $(BIN)/fluxgate $(DESTDIR)$(PREFIX)/bin/fluxgate
	sed 's#/usr/local/bin/fluxgate#$(PREFIX)/bin/fluxgate#g; s#/etc/fluxgate#$(SYSCONFDIR)/fluxgate#g' \
	  scripts/fluxgate.service > $(DESTDIR)$(UNITDIR)/fluxgate.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/fluxgate.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/fluxgate/config.yaml ]; then \
	  echo "keeping existing $(DESTDIR)$(SYSCONFDIR)/fluxgate/config.yaml"; \
	else \
	  echo "install -m 0644 config/config.yaml $(DESTDIR)$(SYSCONFDIR)/fluxgate/config.yaml"; \
	  install -m 0644 config/config.yaml $(DESTDIR)$(SYSCONFDIR)/fluxgate/config.yaml; \
	fi
	@if [ -z "$(DESTDIR)" ]; then echo "next: systemctl daemon-reload && systemctl enable --now fluxgate (see docs/operations.md)"; fi

## uninstall: remove the binary and the unit; the config stays
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/fluxgate $(DESTDIR)$(UNITDIR)/fluxgate.service
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/fluxgate (remove it yourself to purge)"
	@if [ -z "$(DESTDIR)" ]; then echo "next: systemctl daemon-reload"; fi
