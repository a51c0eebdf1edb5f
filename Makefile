# The two commands a newcomer needs: `make run` and `make test`.
GO       ?= go
CONFIG   ?= manifests/demo.yaml
BIN      := bin/bot
FUZZTIME ?= 30s

.PHONY: run build test test-race-scenario vet fmt bench fuzz e2e clean

run: build
	$(BIN) serve --config $(CONFIG)

build:
	$(GO) build -o $(BIN) ./cmd/bot

# vet, then every package's tests with the race detector, except the
# end-to-end scenarios: those run without it here (about 25 s instead of
# over 4 minutes, since SQLite under the race detector is slow) and with it
# in test-race-scenario, which CI runs too.
test: vet
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/internal/scenario$$')
	$(GO) test -count=1 ./internal/scenario/

# The end-to-end scenarios under the race detector (several minutes).
test-race-scenario:
	$(GO) test -race -count=1 -timeout=30m ./internal/scenario/

vet:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Ingest throughput against the real HTTP server (and Alertmanager when
# Debian's prometheus-alertmanager is installed), storms (time to page and
# to room behind 5,000 and 50,000 new incidents, escalation lateness, new
# alerts against Alertmanager), triage (its message in the room, rule-based
# and with an AI, and the first chat call with it on and off), escalation-step lateness with 100,000
# pending timers, then the Go benchmarks (who is on call, decoders, the
# store, the outbox with 1,000 and 500,000 rows pending,
# webhook-to-first-Slack-call latency, a storm-mode storm on Slack, plan
# and apply of a 200-person setup, the handoff report in a generated year
# of history for 20 teams).
bench:
	$(GO) run ./cmd/ingestbench
	$(GO) run ./cmd/stormbench
	$(GO) run ./cmd/triagebench
	$(GO) run ./cmd/oncallbench
	$(GO) test -run='^$$' -bench=. -skip='DispatchBacklog|StormModeSlack' -benchmem -count=3 ./internal/...
	$(GO) test -run='^$$' -bench=DispatchBacklog -benchtime=3000x -count=5 ./internal/outbox/
	$(GO) test -run='^$$' -bench=StormModeSlack -benchtime=1x -count=3 ./internal/scenario/

# The web console in a real browser (Debian's chromium, headless, driven by
# chromedp): sign in, open a room, press Acknowledge, see it, screenshot to
# e2e-artifacts/. Installs chromium when it is missing.
e2e:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium"; \
		(apt-get update -qq && apt-get install -y -qq chromium) >/dev/null || \
		{ echo "could not install chromium (needs apt-get as root)"; exit 1; }; }
	$(GO) test -tags e2e -count=1 -v ./e2e/

# Each decoder's fuzz target for FUZZTIME.
fuzz:
	for f in FuzzAlertmanager FuzzGrafana FuzzZabbix FuzzGeneric; do \
		$(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) ./internal/ingest/ || exit 1; \
	done

clean:
	rm -rf bin
