# easlocal: see README.md. `make test` is what CI runs.
GO        ?= go
BIN       ?= bin/easlocal
PKGS      ?= ./...
# tools/ (benchmarks, soak, the image builder) and examples/app (the
# example service) are modules of their own, so `go install ./...` at the
# root installs easlocal only; `make test` covers all three.
TOOLS     ?= tools
APP       ?= examples/app
FUZZTIME  ?= 3m
SOAKTIME  ?= 20m
# What `easlocal version` prints. go build's own VCS stamp is missing in a
# git worktree and with GOFLAGS=-buildvcs=false, so the commit is passed in.
COMMIT    ?= $(shell git rev-parse -q --verify HEAD 2>/dev/null)$(shell git rev-parse -q --verify HEAD >/dev/null 2>&1 && ! git diff --quiet HEAD -- 2>/dev/null && echo +dirty)
VERSION   ?= $(shell git describe --tags --exact-match 2>/dev/null)
LDFLAGS   ?= $(if $(COMMIT),-X main.commit=$(COMMIT)) $(if $(VERSION),-X main.version=$(VERSION))

.PHONY: all build test test-short fuzz bench soak examples demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/easlocal

# Every test, including the ones against the real containerd (they need
# root, containerd, runc and the CNI plugins: see scripts/install-deps.sh).
# The allocation counts run once more without -race, which skews them.
test:
	$(GO) vet $(PKGS)
	cd $(TOOLS) && $(GO) vet ./...
	cd $(APP) && $(GO) vet ./...
	$(GO) test -race -count=1 -timeout 9m $(PKGS)
	$(GO) test -count=1 -run 'AllocatesNothing' ./metrics ./proxy
	cd $(TOOLS) && $(GO) test -race -count=1 -timeout 2m ./...
	cd $(APP) && $(GO) test -race -count=1 -timeout 2m ./...

# Unit tests only: no containerd, no root.
test-short:
	$(GO) test -short -race $(PKGS)
	cd $(TOOLS) && $(GO) test -short -race ./...
	cd $(APP) && $(GO) test -short -race ./...

# Longer fuzzing than the seed corpora `make test` runs. Minimizing is
# capped so a busy machine keeps fuzzing rather than shrinking inputs.
fuzz:
	$(GO) test ./service -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./service -run '^$$' -fuzz '^FuzzParseValues$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzRouting$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzFront$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./proxy -run '^$$' -fuzz '^FuzzPlainURI$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./admin -run '^$$' -fuzz '^FuzzControlAPI$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s
	$(GO) test ./scenario -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 10s

# The example app into bin/example-image.tar (tools/imagebuild).
examples:
	cd $(TOOLS) && $(GO) run ./imagebuild -out $(abspath bin/example-image.tar)

# The main job on the example: installs what is missing (containerd, runc,
# CNI plugins), builds easlocal and the example image, loads it and runs
# three instances behind the gateway until Ctrl-C.
demo:
	scripts/install-deps.sh
	$(MAKE) build examples
	$(BIN) load bin/example-image.tar
	$(BIN) up examples/demo/service.json

# Benchmarks against the real binary (root, containerd, nginx; wrk
# optional), about 17 minutes. Results in bin/bench/results.md; method
# and figures in docs/benchmarks.md.
bench: build examples
	$(BIN) load bin/example-image.tar
	cd $(TOOLS) && $(GO) run ./bench -easlocal $(abspath $(BIN)) -out $(abspath bin/bench) $(BENCHFLAGS)

# A bounded soak run (docs/soak.md): needs root and containerd like `up`.
soak: build examples
	$(BIN) load bin/example-image.tar
	cd $(TOOLS) && $(GO) run ./soak -easlocal $(abspath $(BIN)) -duration $(SOAKTIME)

clean:
	rm -rf bin
