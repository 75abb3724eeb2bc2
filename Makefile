# citygrid: the two commands are `make run` and `make test`.
GO      ?= go
BIN     := bin/citygrid
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The demo database and the test database live apart, on their own ports.
DATA       ?= .data/pg
DB_PORT    ?= 54329
TEST_DATA  := .data/test
TEST_PORT  ?= 54339
# The api package's tests with the browser tests and a first install of
# chromium outgrow go test's default 10 minutes under -race on 2 cores.
GOTESTFLAGS ?= -count=1 -race -timeout 40m

export CGO_ENABLED := 1

.PHONY: run stop test build builddeps web vet clean

## run: install PostGIS if missing, start the local cluster, migrate and serve on :8080
run: build
	./$(BIN) serve --data $(DATA) --db-port $(DB_PORT)

## stop: stop the local cluster that `make run` started
stop: build
	./$(BIN) db stop --data $(DATA) --db-port $(DB_PORT)

## build: the binary, with the map app embedded
build: builddeps web/dist/index.html
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/citygrid

## builddeps: install what the cgo build needs (a C compiler, pkg-config, zlib headers) when missing
builddeps:
	@CGO_ENABLED=0 $(GO) run ./internal/builddeps

web: web/dist/index.html

# Every source of the app: the pages (index.html, m/), src/ and public/ at
# any depth, the package and Vite files; not the built dist/, the installed
# node_modules/, the browser tests in e2e/ or the Go beside them.
WEB_SOURCES := $(shell find web -path web/node_modules -prune -o -path web/dist -prune -o -path web/e2e -prune \
	-o -type f ! -name '*.go' ! -name '.*' -print 2>/dev/null)

web/dist/index.html: $(WEB_SOURCES)
	@CGO_ENABLED=0 $(GO) run ./internal/builddeps --node
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@# Vite keeps dist/ (for .gitkeep): an earlier build's assets would be embedded too.
	find web/dist -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
	cd web && npm run build --silent

## test: vet, staticcheck and every test, against a throwaway PostGIS cluster of its own
test: build
	@./$(BIN) db start --data $(TEST_DATA) --db-port $(TEST_PORT) --fast >/dev/null
	@set -e; url=$$(./$(BIN) db url --data $(TEST_DATA) --db-port $(TEST_PORT)); \
	rc=0; \
	$(GO) vet ./... || rc=$$?; \
	if [ $$rc -eq 0 ]; then $(GO) tool staticcheck ./... || rc=$$?; fi; \
	if [ $$rc -eq 0 ]; then CITYGRID_TEST_DATABASE_URL="$$url" $(GO) test $(GOTESTFLAGS) ./... || rc=$$?; fi; \
	./$(BIN) db stop --data $(TEST_DATA) --db-port $(TEST_PORT) || true; \
	exit $$rc

clean:
	rm -rf bin
	find web/dist -mindepth 1 -maxdepth 1 ! -name .gitkeep -exec rm -rf {} +
