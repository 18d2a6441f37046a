# aoai-canary: build, test and demo. `make test` and `make demo` do all of the set-up.

SWIFT ?= swift
APT_PACKAGES := libcurl4-openssl-dev libmicrohttpd-dev libgnutls28-dev libsystemd-dev libyaml-dev libssl-dev libcrypt-dev zlib1g-dev pkg-config prometheus prometheus-alertmanager chromium python3-venv
# The container image (`make image`) and its test: mmdebstrap extracts Debian's packages, buildah
# assembles the image, podman and skopeo load and copy it.
APT_PACKAGES += mmdebstrap buildah podman skopeo
REVISION := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
export AOAI_CANARY_REVISION := $(REVISION)
# apt waits up to 5 minutes for another apt or dpkg to let go of its lock, instead of failing.
APT_GET := apt-get -o DPkg::Lock::Timeout=300
BIN := .build/debug/aoai-canary
# The toolchain's lld links release builds when it has one: GNU ld warns about a mktemp() in the
# static Foundation the binary carries (packaging/build-deb.sh does the same).
RELEASE_LINKER := $(shell d=$$(dirname "$$(command -v $(SWIFT))" 2>/dev/null); [ -x "$$d/ld.lld" ] && echo "-Xswiftc -use-ld=lld")
# A target that imports another it does not declare is an error, not a build-order accident.
BUILD_FLAGS := --explicit-target-dependency-import-check error

.PHONY: all deps build release test test-suites lint format conformance fuzz soak bench demo manifests image clean

all: build

## deps: install the Debian packages the build and tests need (as root), or say which are missing
deps:
	@version=$$($(SWIFT) --version 2>/dev/null | sed -n 's/.*Swift version \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1); \
	case "$$version" in \
	  6.* | [7-9].* | [1-9][0-9].*) ;; \
	  *) echo "make: aoai-canary needs Swift 6.0 or newer; '$(SWIFT)' is $${version:-not found}."; \
	     echo "  Debian 12 does not package Swift 6: take the Debian 12 toolchain from https://www.swift.org/install/linux/"; \
	     echo "  (a tarball to unpack, e.g. in /opt/swift, or swiftly), put its usr/bin on PATH, or run make SWIFT=/opt/swift/usr/bin/swift."; \
	     exit 1 ;; \
	esac
	@missing=""; \
	for package in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "Installing:$$missing"; \
	    DEBIAN_FRONTEND=noninteractive $(APT_GET) update -qq && \
	    DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq --no-install-recommends$$missing >/dev/null; \
	  else \
	    echo "Missing Debian packages. Install them with:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	    exit 1; \
	  fi; \
	fi

## build: a debug build of the binary
build: deps
	$(SWIFT) build $(BUILD_FLAGS)

## release: an optimised build with the Swift runtime linked in
release: deps
	$(SWIFT) build -c release --static-swift-stdlib $(RELEASE_LINKER) $(BUILD_FLAGS)

## test: the whole test suite (the layers refusing an upward reference, a fixed-seed fuzz run, the
## conformance suite, then unit, simulator, end-to-end against the built binary), failing too if it
## changed this host's users, groups, packages or the package's files (Tests/Host/unchanged.sh)
test: deps
	Tests/Host/unchanged.sh $(MAKE) --no-print-directory test-suites

## test-suites: what `make test` runs, without its set-up and its check of the host
test-suites:
	SWIFT=$(SWIFT) Tests/Layers/upward-reference.sh
	FUZZ_RUNS=50000 SWIFT=$(SWIFT) Tests/Fuzz/run.sh
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	AOAI_CANARY_BIN=$(BIN) Tests/Conformance/run.sh
	Tests/Kubernetes/run.sh
	AOAI_CANARY_BIN=$(BIN) Tests/Image/run.sh
	# The stalled-scraper test loads the machine (3,000 resources, 64 stalled readers): alone first.
	$(SWIFT) test --skip-build --filter StalledScraperTests
	# The soak measures the agent's resident memory over 24 s: alone too, so that the suites
	# running beside it (agents, simulators, binaries of their own) do not load the machine under
	# it (a clean-clone run saw 347 KiB/s of growth and twice the descriptors with them beside it).
	$(SWIFT) test --skip-build --filter SoakTests
	$(SWIFT) test --skip-build --skip StalledScraperTests --skip SoakTests

## lint: the house format, .swift-format, checked with the toolchain's `swift format` (lines of at
## most 160 characters among its rules); `make format` rewrites the sources in it
lint:
	$(SWIFT) format lint --strict --recursive --parallel Sources Tests Package.swift

## format: rewrite the sources in the house format
format:
	$(SWIFT) format format --in-place --recursive --parallel Sources Tests Package.swift

## conformance: Microsoft's own clients (openai, azure-identity, msal from PyPI, pinned in
## Tests/Conformance/requirements.txt, in .build/conformance-venv) against `simulate`
conformance: build
	AOAI_CANARY_BIN=$(BIN) Tests/Conformance/run.sh

## fuzz: libFuzzer on every parser of outside input, FUZZ_SECONDS each (default 60)
fuzz: deps
	SWIFT=$(SWIFT) Tests/Fuzz/run.sh

## soak: 200 resources at a 1 s interval through rotating faults for SOAK_SECONDS (default 300);
## prints the probe rate, RSS, its slope after warm-up and the descriptor range
SOAK_SECONDS ?= 300
soak: deps
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	AOAI_CANARY_SOAK_SECONDS=$(SOAK_SECONDS) $(SWIFT) test --skip-build --filter EndToEndTests.SoakTests

## manifests: the Kubernetes PrometheusRule and dashboard ConfigMap, written from
## dashboards/aoai-canary.rules.yml and dashboards/aoai-canary.json (a test fails when they drift)
manifests:
	packaging/kubernetes/generate.sh

## image: build/aoai-canary_<version>_<arch>.oci.tar, the container image, built offline from
## Debian's packages (mmdebstrap, buildah): the release binary, the libraries it links, CA
## certificates, user 65532; reproducible. `podman load -i` it, or `skopeo copy` it to a registry.
image: deps
	SWIFT="$(SWIFT)" packaging/image/build.sh

## bench: this agent against a bare libcurl client (bench/floor.c, the floor) and Debian's
## prometheus-blackbox-exporter on one loopback target, at
## BENCH_SIZES resources (default 1 100 1000 10000): CPU per probe, peak RSS, ratios. A report.
## BENCH_AUTH=both gives every resource both canaries (tokens from a fake token endpoint), and
## BENCH_DOCS=docs/performance.md rewrites that mode's table and figures there from the run.
bench: release
	@command -v prometheus-blackbox-exporter >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -qq prometheus-blackbox-exporter >/dev/null; } || { echo "bench needs: sudo apt-get install -y prometheus-blackbox-exporter"; exit 1; }
	cc -O2 -Wall -Wextra -o .build/bench-floor bench/floor.c $$(pkg-config --cflags --libs libcurl) -lm
	AOAI_CANARY_BIN=.build/release/aoai-canary BENCH_FLOOR_BIN=.build/bench-floor python3 bench/bench.py

## demo: the agent against the built-in simulator; Ctrl-C to stop
demo: build
	$(BIN) demo

clean:
	rm -rf .build
include packaging/deb.mk
