# citygrid: the two commands are `make run` and `make test`.
GO      ?= go
BIN     := bin/citygrid
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The demo database and the test database live apart, on their own ports.
DATA       ?= .data/pg
DB_PORT    ?= 54329
TEST_DATA  := .data/test
TEST_PORT  ?= 54339
GOTESTFLAGS ?= -count=1 -race

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

web/dist/index.html: web/package.json web/package-lock.json web/index.html web/vite.config.js $(wildcard web/src/*)
	@CGO_ENABLED=0 $(GO) run ./internal/builddeps --node
	cd web && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent

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
	rm -rf bin web/dist/assets web/dist/index.html
