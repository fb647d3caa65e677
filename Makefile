# veritrail: plain Makefile. `make` builds the library and the command,
# `make test` installs what is missing, builds and runs every test.
#
#   make            build/libveritrail.a, build/veritrail
#   make test       unit tests (cmocka), known-answer vectors, end-to-end scripts
#   make test-asan  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make fuzz       each libFuzzer target for FUZZ_SECONDS
#   make bench      every benchmark under bench/ (not part of the tests)
#   make run        install, build, and start the demo / service
#   make check-format, make format, make check-deps

CC       ?= cc
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif
BUILD    ?= build
SHARED   ?= $(abspath ../shared)
FUZZ_SECONDS ?= 20
SAN      ?=
OPT      ?= -O2

PKGS     := libcrypto libsodium jansson sqlite3 libmicrohttpd libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lcrypto -lsodium -ljansson -lsqlite3 -lmicrohttpd -lcurl)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
CFLAGS_ALL := -DVT_VERSION=\"0.1.0\" -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(OPT) -g $(WARN) \
              -Iinclude $(PKG_CFLAGS) $(SAN) $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lpthread -lm $(LDLIBS)

# Modules, bottom to top (DESIGN.md §3). A module includes only modules below it.
MODULES  := util crypto encoding merkle store log policy trace service monitor server
LIB_SRC  := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_SRC  := $(wildcard src/cli/*.c)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
HEADERS  := $(wildcard include/veritrail/*.h) $(wildcard src/*/*.h)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
E2E      := $(sort $(wildcard tests/e2e/[0-9]*.sh))
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)

.PHONY: all deps test test-unit test-e2e test-asan fuzz bench run check-format format check-deps clean

all: $(BUILD)/libveritrail.a $(BUILD)/veritrail

deps:
	@scripts/install-deps

$(BUILD)/obj/%.o: %.c $(HEADERS) Makefile
	@mkdir -p $(dir $@)
	@printf '  CC      %s\n' $<
	@$(CC) $(CFLAGS_ALL) -Isrc -c $< -o $@

$(BUILD)/libveritrail.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/veritrail: $(CLI_OBJ) $(BUILD)/libveritrail.a
	@printf '  LINK    %s\n' $@
	@$(CC) $(CFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libveritrail.a $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libveritrail.a $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc -Itests/unit -o $@ $< $(BUILD)/libveritrail.a -lcmocka $(LDLIBS_ALL)

$(BUILD)/bench/%: bench/%.c bench/bench.h $(BUILD)/libveritrail.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Isrc -Ibench -o $@ $< $(BUILD)/libveritrail.a $(LDLIBS_ALL)

# The test runner prints one closing line "N passed, N failed" for the whole suite.
test: deps
	@$(MAKE) --no-print-directory test-run

test-run: all $(UNIT_BIN)
	@VT_SHARED=$(SHARED) VT=$(abspath $(BUILD)/veritrail) BUILD=$(abspath $(BUILD)) \
		scripts/run-tests $(UNIT_BIN) $(E2E)

test-asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test-run

# libFuzzer targets: the library built once with clang and coverage
# instrumentation, each target linked against it.
FUZZ_CFLAGS := -DVT_VERSION=\"fuzz\" -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -g -O1 \
               -Iinclude -Isrc $(PKG_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@

build/fuzz/libveritrail.a: $(FUZZ_OBJ)
	@rm -f $@ && ar rcs $@ $^

build/fuzz/%: fuzz/%.c build/fuzz/libveritrail.a tests/unit/statement_ref.h
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< build/fuzz/libveritrail.a $(LDLIBS_ALL)

fuzz: deps $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do \
		n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
		seeds=; [ -d fuzz/corpus/$$n ] && seeds=fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=0 \
			build/fuzz/corpus/$$n $$seeds >build/fuzz/$$n.log 2>&1 || \
			{ tail -40 build/fuzz/$$n.log; exit 1; }; \
	done; echo "fuzz: all targets ran clean"

bench: all $(BENCH_BIN)
	@for b in $(BENCH_BIN); do echo "== $$b"; $$b || exit 1; done

run: deps all
	@scripts/run

FMT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
check-format:
	@clang-format --dry-run --Werror $(FMT_SRC) && echo "check-format: clean"

format:
	clang-format -i $(FMT_SRC)

check-deps:
	@scripts/check-deps

clean:
	rm -rf build
