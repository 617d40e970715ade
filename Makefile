# Top-level entry points. Everything is driven by cargo; this file only strings the
# steps together so that one command does all the set-up on a fresh machine.
#
#   make           build what `make install` installs (release): libnrtq.so/.a, the
#                  emulator's libnrt.so.1 of each generation and nrt-emu-model
#   make install   copy libnrtq, its header and nrtq.pc into PREFIX (no cargo needed)
#   make install-emu   copy the emulator into PREFIX, under its own nrt-emu/ folders
#   make install-neuron-pc NEURON_ROOT=/opt/aws/neuron   write libnrt.pc for a real
#                  Neuron runtime install, so that nrtq.pc's `Requires: libnrt` finds it
#   make uninstall remove everything the three install targets wrote
#   make dev       build the whole workspace, debug, every target (what demo and test use)
#   make demo      build everything (debug) and run the demos on the emulator
#   make test      build everything and run every test, in each async generation, then
#                  the sanitizer suite (make sanitize)
#   make sanitize  the C examples and the stress test under ASan/UBSan, valgrind and TSan
#                  (.ci/sanitize), in each async generation
#   make bench     the benchmark (release build), writing bench/results/
#   make header    regenerate include/nrtq.h from src/ffi
#
# Install variables (cargo-c's layout): PREFIX (/usr/local), LIBDIR ($(PREFIX)/lib),
# INCLUDEDIR ($(PREFIX)/include), BINDIR, DATADIR, PKGCONFIGDIR ($(LIBDIR)/pkgconfig),
# DESTDIR (staging root), PROFILE (release; `debug` installs the debug build),
# CARGO_TARGET_DIR (target), NEURON_ROOT (/opt/aws/neuron), NEURON_VERSION.

CARGO ?= cargo
GENERATIONS := 2.28 2.29 2.30

.PHONY: all build shared-lib dev demo test test-one sanitize bench header clean \
        install install-emu install-neuron-pc uninstall

all: build

# Everything demo and test run on: the whole workspace, debug, every target.
dev:
	$(CARGO) build --workspace --all-targets

demo: dev
	$(MAKE) -C examples-c demo

# Each generation of the runtime API gets the whole suite: the emulator presents the one
# NRT_EMU_API names, and every test loads that library.
test: dev
	@for api in $(GENERATIONS); do \
	  echo "=== NRT_EMU_API=$$api: cargo test --workspace ==="; \
	  NRT_EMU_API=$$api $(CARGO) test --workspace || exit 1; \
	done
	bash .ci/sanitize

sanitize:
	bash .ci/sanitize

bench:
	$(CARGO) build --workspace --release
	$(CARGO) run --release -p nrtq-bench -- --out bench/results
	$(CARGO) run --release -p nrtq-bench -- --suite pipeline --out bench/results
	printf '# Pools: scaling over cores and failover (2.30)\n\nCommand: `make bench` (`NRT_EMU_API=2.30 cargo test --release --test pool_scale -- --ignored --nocapture --test-threads 1`)\n\n' > bench/results/pool.md
	NRT_EMU_API=2.30 POOL_OUT=$(CURDIR)/bench/results/pool.md $(CARGO) test --release --test pool_scale -- --ignored --nocapture --test-threads 1

header:
	NRTQ_UPDATE_HEADER=1 $(CARGO) build -p nrtq

clean:
	$(CARGO) clean
	$(MAKE) -C examples-c clean

# ---------------------------------------------------------------------------------------
# Build and install, following cargo-c's layout and naming (README: "Building and installing").
# `install*` copy only what `build` left in target/$(PROFILE) and never run cargo, so
# `sudo make install` works where root has no Rust toolchain.

PROFILE      ?= release
PREFIX       ?= /usr/local
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
BINDIR       ?= $(PREFIX)/bin
DATADIR      ?= $(PREFIX)/share
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
NEURON_ROOT  ?= /opt/aws/neuron
NEURON_VERSION ?= unknown
INSTALL      ?= install

# Where cargo builds (its own variable, so a CARGO_TARGET_DIR in the environment works).
CARGO_TARGET_DIR ?= target
BUILT := $(CARGO_TARGET_DIR)/$(PROFILE)
# cargo calls the debug profile `dev` but writes it to target/debug.
CARGO_PROFILE := $(if $(filter debug,$(PROFILE)),dev,$(PROFILE))
# NRTQ_VERSION (the crate version, for libnrtq.so.X.Y.Z) and NRTQ_SONAME, as build.rs
# wrote them for this build.
-include $(BUILT)/nrtq-install.mk
# Every public header in include/ (the C header, and the C++ one where it exists).
NRTQ_HEADERS := $(wildcard include/*.h include/*.hpp)
EMU_HEADERS  := $(shell cd nrt-emu/include && find nrt -name '*.h' | sort)
EMU_MODELS   := $(notdir $(wildcard nrt-emu/models/*.nrtm))
# The vendor's soname; the emulator keeps it so programs built here run on a real libnrt.
EMU_SONAME   := libnrt.so.1
# Marks a libnrt.pc written by install-neuron-pc, so uninstall removes only ours.
NEURON_PC_MARK := written by nrtq's make install-neuron-pc

build:
	$(CARGO) build --profile $(CARGO_PROFILE) -p nrtq -p nrt-emu \
	  $(foreach g,$(GENERATIONS),-p nrt-emu-gen-$(subst .,-,$(g)))
	$(MAKE) --no-print-directory shared-lib PROFILE=$(PROFILE)

# The installed libnrtq.so.X.Y.Z, linked from libnrtq.a with the version script build.rs
# wrote (every nrtq_* symbol at NRTQ_0). Cargo's own cdylib cannot carry it: rustc passes
# its own version script first (see write_version_script in build.rs). No cargo here.
shared-lib:
	$(call need_built,$(BUILT)/libnrtq.a $(BUILT)/libnrtq.map $(BUILT)/nrtq-install.mk)
	$(CC) -shared -o $(BUILT)/libnrtq.so.$(NRTQ_VERSION) \
	  -Wl,--whole-archive $(BUILT)/libnrtq.a -Wl,--no-whole-archive \
	  -Wl,--version-script=$(BUILT)/libnrtq.map -Wl,-soname,$(NRTQ_SONAME) \
	  -Wl,--gc-sections -Wl,-z,relro,-z,now -Wl,--no-undefined $(NRTQ_LIBS_PRIVATE)

# The checks name the missing file and the command that makes it.
define need_built
@for f in $(1); do test -e "$$f" || { \
  echo "$$f is missing: run \`make PROFILE=$(PROFILE)\` (a $(PROFILE) build) before installing" >&2; \
  exit 2; }; done
endef

install:
	$(call need_built,$(BUILT)/nrtq-install.mk)
	$(call need_built,$(BUILT)/libnrtq.so.$(NRTQ_VERSION) $(BUILT)/libnrtq.a $(BUILT)/pkgconfig/nrtq.pc.in)
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/nrtq $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 0755 $(BUILT)/libnrtq.so.$(NRTQ_VERSION) $(DESTDIR)$(LIBDIR)/libnrtq.so.$(NRTQ_VERSION)
	ln -sfn libnrtq.so.$(NRTQ_VERSION) $(DESTDIR)$(LIBDIR)/$(NRTQ_SONAME)
	ln -sfn libnrtq.so.$(NRTQ_VERSION) $(DESTDIR)$(LIBDIR)/libnrtq.so
	$(INSTALL) -m 0644 $(BUILT)/libnrtq.a $(DESTDIR)$(LIBDIR)/libnrtq.a
	$(INSTALL) -m 0644 $(NRTQ_HEADERS) $(DESTDIR)$(INCLUDEDIR)/nrtq/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  $(BUILT)/pkgconfig/nrtq.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/nrtq.pc

install-emu:
	$(call need_built,$(foreach g,$(GENERATIONS),$(BUILT)/emu/$(g)/$(EMU_SONAME)) $(BUILT)/nrt-emu-model)
	@set -e; for g in $(GENERATIONS); do \
	  dir=$(DESTDIR)$(LIBDIR)/nrt-emu/$$g; \
	  api=$$([ $$g = 2.28 ] && echo 2 || echo 3); \
	  echo "install-emu: $$dir"; \
	  $(INSTALL) -d $$dir/pkgconfig; \
	  $(INSTALL) -m 0755 $(BUILT)/emu/$$g/$(EMU_SONAME) $$dir/$(EMU_SONAME); \
	  ln -sfn $(EMU_SONAME) $$dir/libnrt.so; \
	  sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	      -e 's|@DATADIR@|$(DATADIR)|' -e "s|@GENERATION@|$$g|g" -e "s|@ASYNC_API@|$$api|" \
	      libnrt-emu.pc.in > $$dir/pkgconfig/libnrt.pc; \
	done
	@set -e; for h in $(EMU_HEADERS); do \
	  $(INSTALL) -d $(DESTDIR)$(INCLUDEDIR)/nrt-emu/$$(dirname $$h); \
	  $(INSTALL) -m 0644 nrt-emu/include/$$h $(DESTDIR)$(INCLUDEDIR)/nrt-emu/$$h; \
	done
	$(INSTALL) -d $(DESTDIR)$(DATADIR)/nrt-emu/models $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 0644 $(addprefix nrt-emu/models/,$(EMU_MODELS)) $(DESTDIR)$(DATADIR)/nrt-emu/models/
	$(INSTALL) -m 0755 $(BUILT)/nrt-emu-model $(DESTDIR)$(BINDIR)/nrt-emu-model

install-neuron-pc:
	@test -f $(NEURON_ROOT)/include/nrt/nrt.h || { \
	  echo "$(NEURON_ROOT)/include/nrt/nrt.h not found: set NEURON_ROOT to the Neuron runtime's install prefix" >&2; exit 2; }
	@test -e $(NEURON_ROOT)/lib/libnrt.so || test -e $(NEURON_ROOT)/lib/$(EMU_SONAME) || { \
	  echo "no libnrt.so under $(NEURON_ROOT)/lib: set NEURON_ROOT to the Neuron runtime's install prefix" >&2; exit 2; }
	$(INSTALL) -d $(DESTDIR)$(PKGCONFIGDIR)
	{ echo "# $(NEURON_PC_MARK)"; \
	  sed -e 's|@NEURON_ROOT@|$(NEURON_ROOT)|g' -e 's|@NEURON_VERSION@|$(NEURON_VERSION)|' libnrt-neuron.pc.in; \
	} > $(DESTDIR)$(PKGCONFIGDIR)/libnrt.pc

# Removes exactly the files the install targets write, then the folders that are ours
# alone (include/nrtq, */nrt-emu) when empty; standard folders such as lib/pkgconfig stay.
uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libnrtq.so.$(or $(NRTQ_VERSION),[0-9]*) $(DESTDIR)$(LIBDIR)/$(or $(NRTQ_SONAME),libnrtq.so.[0-9]*) \
	  $(DESTDIR)$(LIBDIR)/libnrtq.so $(DESTDIR)$(LIBDIR)/libnrtq.a $(DESTDIR)$(PKGCONFIGDIR)/nrtq.pc \
	  $(addprefix $(DESTDIR)$(INCLUDEDIR)/nrtq/,$(notdir $(NRTQ_HEADERS)))
	rmdir $(DESTDIR)$(INCLUDEDIR)/nrtq 2>/dev/null || true
	rm -f $(foreach g,$(GENERATIONS),$(addprefix $(DESTDIR)$(LIBDIR)/nrt-emu/$(g)/,$(EMU_SONAME) libnrt.so pkgconfig/libnrt.pc)) \
	  $(addprefix $(DESTDIR)$(INCLUDEDIR)/nrt-emu/,$(EMU_HEADERS)) \
	  $(addprefix $(DESTDIR)$(DATADIR)/nrt-emu/models/,$(EMU_MODELS)) $(DESTDIR)$(BINDIR)/nrt-emu-model
	find $(DESTDIR)$(LIBDIR)/nrt-emu $(DESTDIR)$(INCLUDEDIR)/nrt-emu $(DESTDIR)$(DATADIR)/nrt-emu \
	  -depth -type d -empty -delete 2>/dev/null || true
	@if grep -qs "$(NEURON_PC_MARK)" $(DESTDIR)$(PKGCONFIGDIR)/libnrt.pc; then \
	  echo "rm -f $(DESTDIR)$(PKGCONFIGDIR)/libnrt.pc"; rm -f $(DESTDIR)$(PKGCONFIGDIR)/libnrt.pc; fi

# The soak (tests/soak/nrtq_soak.c, a client written from include/nrtq.h):
# SOAK_REQUESTS accepted requests in all (default 10.2 million), split evenly over the
# generations, with random faults (errors, refusals, hangs past deadlines, dying units),
# destroys mid-stream and recreated queues; it prints exact counts and fails on any broken
# promise. Every generation runs even if one fails. Replay a run with SOAK_SEED=<printed>.
# A 10^6 slice per generation runs in `make test` (tests/contract_soak.rs).
SOAK_REQUESTS ?= 10200000
.PHONY: soak
soak:
	$(CARGO) build --workspace --release
	$(MAKE) -s -C tests/soak PROFILE=release
	@status=0; for api in $(GENERATIONS); do \
	  echo "=== soak NRT_EMU_API=$$api ==="; \
	  SOAK_REQUESTS=$$(( ($(SOAK_REQUESTS) + $(words $(GENERATIONS)) - 1) / $(words $(GENERATIONS)) )) \
	    LD_LIBRARY_PATH=target/release/emu/$$api NRT_EMU_API=$$api \
	    target/release/soak/nrtq_soak || status=1; \
	done; exit $$status

# ---------------------------------------------------------------------------------------
# Triton Inference Server backend (triton/; README "Serving with Triton").
#   make triton        libtriton_nrtq.so for the emulator generation API (default 2.30), in
#                      target/debug/triton/<API>/backends/nrtq/ (a --backend-directory)
#   make triton-bench  the load test: nrtq's backend on 2 and 8 emulated cores beside a
#                      Python-backend model calling libnrt per request (triton/bench/load.py;
#                      BENCH_ARGS passes options, e.g. BENCH_ARGS="--repeat 1")
# tests/triton.rs (in `make test`) builds the backend and runs a real server itself.
.PHONY: triton triton-bench
triton:
	$(CARGO) build -p nrtq -p nrt-emu $(foreach g,$(GENERATIONS),-p nrt-emu-gen-$(subst .,-,$(g)))
	$(MAKE) -C triton PROFILE=debug

triton-bench:
	$(CARGO) build --release -p nrtq -p nrt-emu $(foreach g,$(GENERATIONS),-p nrt-emu-gen-$(subst .,-,$(g)))
	bash triton/tools/setup.sh $(CARGO_TARGET_DIR)/triton
	$(MAKE) -C triton PROFILE=release API=2.30
	PYTHONDONTWRITEBYTECODE=1 $(CARGO_TARGET_DIR)/triton/venv/bin/python triton/bench/load.py \
	  --server-root $(CARGO_TARGET_DIR)/triton/server \
	  --backend-dir $(CARGO_TARGET_DIR)/release/triton/2.30/backends \
	  --libnrt $(CARGO_TARGET_DIR)/release/emu/2.30/libnrt.so.1 \
	  --models nrt-emu/models --work $(CARGO_TARGET_DIR)/triton/bench $(BENCH_ARGS)
