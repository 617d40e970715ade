# Top-level entry points. Everything is driven by cargo; this file only strings the
# steps together so that one command does all the set-up on a fresh machine.
#
#   make demo      build everything (debug) and run the demos on the emulator
#   make test      build everything and run every test, in each async generation, then
#                  the sanitizer suite (make sanitize)
#   make sanitize  the C examples and the stress test under ASan/UBSan, valgrind and TSan
#                  (.ci/sanitize), in each async generation
#   make bench     the benchmark (release build), writing bench/results/
#   make header    regenerate include/nrtq.h from src/ffi
#   make install PREFIX=/usr/local   install libnrtq, its header and nrtq.pc

CARGO ?= cargo
GENERATIONS := 2.28 2.29 2.30
PREFIX ?= /usr/local

.PHONY: build demo test test-one sanitize bench header install clean

build:
	$(CARGO) build --workspace --all-targets

demo: build
	$(MAKE) -C examples-c demo

# Each generation of the runtime API gets the whole suite: the emulator presents the one
# NRT_EMU_API names, and every test loads that library.
test: build
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

header:
	NRTQ_UPDATE_HEADER=1 $(CARGO) build -p nrtq

install:
	$(CARGO) build --release -p nrtq
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 0755 target/release/libnrtq.so $(DESTDIR)$(PREFIX)/lib/libnrtq.so.0
	ln -sf libnrtq.so.0 $(DESTDIR)$(PREFIX)/lib/libnrtq.so
	install -m 0644 target/release/libnrtq.a $(DESTDIR)$(PREFIX)/lib/libnrtq.a
	install -m 0644 include/nrtq.h $(DESTDIR)$(PREFIX)/include/nrtq.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|'"$$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"'|' \
	  nrtq.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/nrtq.pc

clean:
	$(CARGO) clean
	$(MAKE) -C examples-c clean

# The soak of issue 10 (tests/soak/nrtq_soak.c, a client written from include/nrtq.h):
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
