# Flopmarket — one hand-written Makefile for the whole tree.
#
#   make            build the library, the flopmarket binary and the tests
#   make test       install what is missing, build, run every test
#   make demo       install what is missing, build, run the main job
#   make demo-replicas  the same with 3 server replicas on PostgreSQL behind nginx
#   make asan       build and run the unit tests under ASan+UBSan
#   make fuzz       run each libFuzzer target for FUZZ_SECONDS (default 60)
#   make bench      run the benchmarks under bench/
#   make check      check the include layers (scripts/check-layers)
#
# Layout (arrows point one way, checked by `make check`): src/core <- src/eth <- src/escrow, src/market;
# src/core <- src/store, src/net; all of those <- src/server; core, eth, escrow, net <- src/agent;
# everything <- the binary (src/cli).
# JOBS (default: the number of cores) sets the parallelism of `make test`.

CC       ?= cc
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
BUILD    ?= build
OPT      ?= -O2 -g
SAN      ?=
CFLAGS   += -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE $(OPT) $(SAN) \
            -Isrc -Itests -I$(BUILD)/gen -I/usr/include/postgresql -MMD -MP
LDLIBS   += -lsecp256k1 -lnettle -lsodium -lcurl -ljansson -lsqlite3 -lpq -lmicrohttpd -lwslay -lz \
            -lpthread -lm
LDFLAGS  += $(SAN)

# Everything but the CLI goes into libflop.a, so tests can link any layer;
# the binary is src/cli (main.c + one cmd_<verb>.c per subcommand).
LIB_DIRS := src/core src/eth src/escrow src/market src/store src/net src/server src/agent
LIB_SRC  := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
BIN_SRC  := $(wildcard src/cli/*.c)
# Generated at build time, never committed: the BIP-39 wordlist (from npm
# bip39), the store's SQL migrations (src/store/sql/*.sql) and the web UI
# (web/, bundled by esbuild into build/web/, embedded by scripts/embed-web).
GEN_SRC  := $(BUILD)/gen/bip39_english.c $(BUILD)/gen/store_sql.c $(BUILD)/gen/store_sql_pg.c \
	$(BUILD)/gen/web_assets.c \
	$(BUILD)/gen/gpubench_source.c
GEN_NAMES := $(notdir $(GEN_SRC:.c=.o))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(addprefix $(BUILD)/obj/gen/,$(GEN_NAMES))
BIN_OBJ  := $(BIN_SRC:%.c=$(BUILD)/obj/%.o)
LIB      := $(BUILD)/libflop.a
BIN      := $(BUILD)/flopmarket

SUPPORT_SRC := $(wildcard tests/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
INTEG_SRC := $(wildcard tests/integration/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
INTEG_BIN := $(INTEG_SRC:tests/integration/%.c=$(BUILD)/tests/integration/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
# Helpers the benchmark scripts run (bench/http's store seeder); not benchmarks themselves.
BENCH_TOOL_SRC := $(wildcard bench/tools/*.c)
BENCH_TOOL_BIN := $(BENCH_TOOL_SRC:bench/tools/%.c=$(BUILD)/bench/tools/%)

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60

# Keep object files: they are intermediate to make, and deleting them races
# with parallel builds of other targets that share them.
.SECONDARY:

# The CUDA GPU benchmark the agent runs (src/agent/cuda): built only where
# nvcc exists; a host without it (or without a GPU) reports "unverified".
NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
NVCC_FLAGS := -O3 -std=c++17 -gencode arch=compute_75,code=compute_75 \
	-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90
ifneq ($(NVCC),)
GPUBENCH := $(BUILD)/gpubench
endif

.PHONY: all setup test unit demo demo-replicas asan fuzz fuzz-smoke bench contracts clean check gpu-check
all: $(LIB) $(BIN) $(UNIT_BIN) $(INTEG_BIN) $(BENCH_BIN) $(BENCH_TOOL_BIN) $(GPUBENCH)

$(BUILD)/gpubench: src/agent/cuda/gpubench.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCC_FLAGS) $< -o $@

setup:
	@scripts/setup

$(BUILD)/gen/bip39_english.c: scripts/gen-wordlist
	@mkdir -p $(dir $@)
	scripts/gen-wordlist > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/store_sql.c: scripts/embed-sql $(wildcard src/store/sql/*.sql)
	@mkdir -p $(dir $@)
	scripts/embed-sql $(wildcard src/store/sql/*.sql) > $@.tmp && mv $@.tmp $@

# The same migrations in PostgreSQL's dialect (src/store/sql/pg; tests/unit/test_store_pg checks the two agree).
$(BUILD)/gen/store_sql_pg.c: scripts/embed-sql $(wildcard src/store/sql/pg/*.sql)
	@mkdir -p $(dir $@)
	scripts/embed-sql --table store_pg_sql $(wildcard src/store/sql/pg/*.sql) > $@.tmp && mv $@.tmp $@

# The web UI: one bundle for every build tree (build/web), embedded per tree.
WEB_OUT := build/web
WEB_SRC := web/index.html $(wildcard web/src/*.js web/src/*/*.js web/src/*.css)

$(WEB_OUT)/.stamp: $(WEB_SRC) scripts/build-web package-lock.json
	scripts/build-web $(WEB_OUT)

.PHONY: web
web: $(WEB_OUT)/.stamp

# The CUDA benchmark's source, carried by the CLI for `flopmarket verify` to compile inside a rental.
$(BUILD)/gen/gpubench_source.c: src/agent/cuda/gpubench.cu scripts/embed-file
	@mkdir -p $(dir $@)
	scripts/embed-file gpubench_source $< > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/web_assets.c: $(WEB_OUT)/.stamp scripts/embed-web
	@mkdir -p $(dir $@)
	scripts/embed-web $(WEB_OUT) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/%.o: %.c | $(GEN_SRC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BIN_OBJ) $(LIB)
	$(CC) $(LDFLAGS) $(BIN_OBJ) $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/integration/%: $(BUILD)/obj/tests/integration/%.o $(SUPPORT_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bench/tools/%: $(BUILD)/obj/bench/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The include layers (scripts/check-layers): allow-list per folder, folder-qualified includes, own header
# first. `make test` runs it (through scripts/run-tests, with its test on a bad fixture).
check:
	scripts/check-layers

# Contracts: compiled offline with npm solc through forge (see foundry.toml).
contracts:
	scripts/build-contracts

test: setup
	$(MAKE) -j$(JOBS) all
	$(MAKE) contracts
	$(MAKE) -j$(JOBS) fuzz-bin
	$(MAKE) -j$(JOBS) asan-bin
	ASAN_BUILD=build/asan scripts/run-tests

unit: all
	scripts/run-tests --unit-only

# The real hardware's check: this host's GPUs (NVML, then nvidia-smi) benchmarked by build/gpubench
# (built where nvcc exists) beside their published peaks. A host without an NVIDIA GPU prints
# "gpu-check: skipped: ..." and exits 0.
gpu-check: setup
	$(MAKE) -j$(JOBS) $(BIN) $(GPUBENCH)
	$(BIN) provider gpu-check $(if $(GPUBENCH),--gpubench $(GPUBENCH))

demo: setup
	$(MAKE) -j$(JOBS) all
	$(MAKE) contracts
	scripts/demo

# The same marketplace with 3 server replicas on one PostgreSQL database behind nginx (docs/store.md).
demo-replicas: setup
	scripts/setup --bench
	$(MAKE) -j$(JOBS) all
	$(MAKE) contracts
	DEMO_REPLICAS=3 DEMO_ISOLATION=$${DEMO_ISOLATION:-account} scripts/demo

# ASan + UBSan build of the library and the unit tests, in its own tree.
# `make test` runs these too (as asan/<test>), beside the optimised build.
ASAN_VARS := BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
.PHONY: units asan-bin
units: $(UNIT_BIN)

asan-bin:
	$(MAKE) $(ASAN_VARS) units
	$(MAKE) $(ASAN_VARS) build/asan/flopmarket

asan: asan-bin
	BUILD=build/asan scripts/run-tests --unit-only

# libFuzzer targets (clang), one per parser; built with ASan+UBSan.
FUZZ_CFLAGS := -std=c17 -Wall -Wextra -Werror -D_GNU_SOURCE -O1 -g -Isrc -Itests -I/usr/include/postgresql -MMD -MP \
	-fsanitize=fuzzer-no-link,address,undefined
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/fuzz/obj/%.o) $(addprefix $(BUILD)/fuzz/obj/gen/,$(GEN_NAMES))

$(BUILD)/fuzz/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/obj/%.o: %.c | $(GEN_SRC)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

$(BUILD)/fuzz/libflop.a: $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/%: $(BUILD)/fuzz/obj/tests/fuzz/%.o $(BUILD)/fuzz/libflop.a
	clang -fsanitize=fuzzer,address,undefined $^ $(LDLIBS) -o $@

.PHONY: fuzz-bin
fuzz-bin: $(FUZZ_BIN)

fuzz: setup fuzz-bin
	scripts/run-fuzz $(FUZZ_SECONDS)

bench: setup
	$(MAKE) -j$(JOBS) all
	$(MAKE) contracts
	scripts/run-bench

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj $(BUILD)/fuzz/obj -name '*.d' 2>/dev/null)
