# libaio-rs: builds libaio.so.1 and libaio.a from the Rust crate.
#
#   make              build/lib/libaio.so.1.0.2 and libaio.so.1t64.0.2 (+ symlinks),
#                     build/lib/libaio.a, build/include/libaio.h
#   make check        every test, and again under the io_uring backend
#                     (installs the Debian packages the tests need)
#   make msrv         the library and its unit tests with the oldest Rust supported
#   make fuzz         a bounded fuzzing run (installs nightly Rust and cargo-fuzz)
#   make tsan         ThreadSanitizer over the Rust code (installs nightly Rust)
#   make install      DESTDIR, prefix, libdir, includedir, mandir are honoured
#   make bench        the benchmark against the system libaio
#   make header       regenerate include/libaio.h from the Rust sources
#   make clean
#
# The crate is built as a no_std, panic=abort static library; the shared
# object is linked from it with the system C compiler and a version script,
# as rustc's own cdylib linking cannot give symbols named versions. Symbol
# names and versions all come from src/symbols.txt.

prefix      ?= /usr/local
exec_prefix ?= $(prefix)
libdir      ?= $(exec_prefix)/lib
includedir  ?= $(prefix)/include
datarootdir ?= $(prefix)/share
mandir      ?= $(datarootdir)/man
DESTDIR     ?=

CC      ?= cc
LD      ?= ld
OBJCOPY ?= objcopy
AR      ?= ar
CARGO   ?= cargo
# Extra cargo options, e.g. --offline or --locked for distribution builds.
CARGO_FLAGS ?=
CARGO_TARGET_DIR ?= $(CURDIR)/target
export CARGO_TARGET_DIR

BUILD := build
SONAME := libaio.so.1
LIBFILE := libaio.so.1.0.2
# The name Debian 13 and Ubuntu 24.04 gave the same library (package
# libaio1t64): its own SONAME, and one more, empty, version node on 64-bit.
SONAME_T64 := libaio.so.1t64
LIBFILE_T64 := libaio.so.1t64.0.2
# The library the development link libaio.so points to, and so the SONAME
# programs linked with -laio need: upstream's, or $(SONAME_T64) as in
# Debian 13's libaio-dev (debian/rules chooses per release).
DEV_SONAME ?= $(SONAME)
DEV_LIBFILE := $(if $(filter $(SONAME_T64),$(DEV_SONAME)),$(LIBFILE_T64),$(LIBFILE))
comma := ,
# The interface version, for pkg-config.
VERSION := 0.3.113

# A Rust target triple to cross-build for (with CC, LD, OBJCOPY and AR set
# to the matching toolchain), e.g. RUST_TARGET=i686-unknown-linux-gnu
# CC=i686-linux-gnu-gcc ...; empty for the host.
RUST_TARGET ?=
# The cargo profile of the Rust code: release, or dev for a library with
# Rust's debug assertions (alignment, overflow), as `make check` also builds
# and tests one.
RUST_PROFILE ?= release
RUST_PROFILE_DIR := $(if $(filter dev,$(RUST_PROFILE)),debug,$(RUST_PROFILE))
# m68k: LLVM's default (small) code model reaches the library's own data
# with 16-bit PC-relative offsets, which the registry's table (over a
# megabyte of .bss) puts out of reach; the large model uses 32-bit GOT
# offsets, as GCC's -fPIC does there.
M68K := $(shell printf '__m68k__\n' | $(CC) -E -P -x c - | tail -n 1 | grep -qx 1 && echo yes)
RUST_CODEGEN := $(if $(M68K),RUSTFLAGS="$(strip $(RUSTFLAGS) -C code-model=large)")
RUST_LIB := $(CARGO_TARGET_DIR)/$(if $(RUST_TARGET),$(RUST_TARGET)/)$(RUST_PROFILE_DIR)/libaio_rs.a
GEN := $(BUILD)/gen
OBJ := $(BUILD)/obj
LIB := $(BUILD)/lib
SYMBOLS := src/symbols.txt
# The target's word size decides which t64 functions exist (src/symbols.txt).
LONG_BYTES := $(shell printf '__SIZEOF_LONG__\n' | $(CC) -E -P -x c - | tail -n 1)
BITS := $(if $(filter 4,$(LONG_BYTES)),32,64)
SYMAWK := awk -v bits=$(BITS) -f scripts/symbols.awk

# Linker flags of the shared objects: every undefined symbol must resolve
# (-z defs), the version script must match the code (--no-undefined-version),
# and DWARF of the prebuilt core library is dropped (-S).
SO_LDFLAGS := -shared -Wl,--gc-sections -Wl,-z,defs -Wl,--no-undefined-version \
	-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack -Wl,-S -nodefaultlibs
# The libraries the shared objects are linked with: libc alone, after the
# object. -nodefaultlibs keeps out libgcc and libgcc_s, whose unwinder a
# panic=abort library never calls, but which code the library does not use
# can still name (compiler-rt's objects in Debian's compiler_builtins; ARM's
# unwind tables, whose personality routines src/rt.rs defines): with the
# compiler's default libraries, that alone made the libraries need
# libgcc_s.so.1.
SO_LIBS := -lc

MAN_PAGES := $(wildcard man/*.3)

# The Rust release whose clippy and rustfmt `make lint` uses, so that a new
# release's lints cannot fail CI overnight; move it on purpose. Used when
# rustup has it (.ci/run installs it), else the default toolchain is.
LINT_TOOLCHAIN := 1.95.0
LINT_CARGO := $(CARGO)$(shell rustup toolchain list 2>/dev/null | grep -q '^$(LINT_TOOLCHAIN)-' && echo ' +$(LINT_TOOLCHAIN)')
# The oldest Rust the crate supports: Cargo.toml's rust-version, as the
# toolchain of its first release (1.85 is 1.85.0), for `make msrv`.
MSRV := $(shell sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml)
MSRV := $(MSRV)$(if $(word 3,$(subst ., ,$(MSRV))),,.0)

.PHONY: all lib header check lint msrv fuzz tsan install uninstall clean bench FORCE

all: lib $(BUILD)/include/libaio.h

lib: $(LIB)/$(LIBFILE) $(LIB)/$(SONAME) $(LIB)/libaio.so $(LIB)/libaio.a \
	$(LIB)/$(LIBFILE_T64) $(LIB)/$(SONAME_T64)

# Cargo decides whether anything changed (sources, features, toolchain) and
# leaves the archive untouched when nothing did, so the steps below run only
# when needed.
$(RUST_LIB): FORCE
	$(RUST_CODEGEN) $(CARGO) build --profile $(RUST_PROFILE) --lib $(if $(RUST_TARGET),--target $(RUST_TARGET)) $(CARGO_FLAGS)

# Version scripts and symbol lists, per library: classic (libaio.so.1) and
# t64 (libaio.so.1t64), which also has the LIBAIO_0.6 node.
$(GEN)/libaio-%.map: $(SYMBOLS) scripts/symbols.awk
	@mkdir -p $(@D)
	$(SYMAWK) -v what=map -v library=$* $(SYMBOLS) > $@

$(GEN)/renames-%.syms: $(SYMBOLS) scripts/symbols.awk
	@mkdir -p $(@D)
	$(SYMAWK) -v what=renames -v library=$* $(SYMBOLS) > $@

# The object keeps every implementation and the static archive exports every
# default name: those of the t64 library, a superset.
$(GEN)/%.syms: $(SYMBOLS) scripts/symbols.awk
	@mkdir -p $(@D)
	$(SYMAWK) -v what=$* -v library=t64 $(SYMBOLS) > $@

# One relocatable object holding just what the exported functions reach.
$(OBJ)/aio.o: $(RUST_LIB) $(GEN)/roots.syms
	@mkdir -p $(@D)
	$(LD) -r --gc-sections $$(sed 's/^/-u /' $(GEN)/roots.syms) \
		--whole-archive $(RUST_LIB) -o $@.tmp
	$(OBJCOPY) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd $@.tmp $@
	@rm -f $@.tmp

# For each shared object: implementations renamed to their versioned names.
$(OBJ)/aio-shared-%.o: $(OBJ)/aio.o $(GEN)/renames-%.syms
	$(OBJCOPY) --redefine-syms=$(GEN)/renames-$*.syms $< $@

# For the static archive: only the default names stay global, so it links
# into executables and into other shared objects alike.
$(OBJ)/aio-static.o: $(OBJ)/aio.o $(GEN)/defaults.syms
	$(OBJCOPY) --keep-global-symbols=$(GEN)/defaults.syms $< $@

$(LIB)/$(LIBFILE): $(OBJ)/aio-shared-classic.o $(GEN)/libaio-classic.map
	@mkdir -p $(@D)
	$(CC) $(SO_LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--version-script=$(GEN)/libaio-classic.map \
		$(LDFLAGS) -o $@ $< $(SO_LIBS)

# On 64-bit targets the t64 script names LIBAIO_0.6 functions that do not
# exist there (see src/symbols.txt), so undefined names are allowed.
$(LIB)/$(LIBFILE_T64): $(OBJ)/aio-shared-t64.o $(GEN)/libaio-t64.map
	@mkdir -p $(@D)
	$(CC) $(SO_LDFLAGS) $(if $(filter 64,$(BITS)),-Wl$(comma)--undefined-version) \
		-Wl,-soname,$(SONAME_T64) -Wl,--version-script=$(GEN)/libaio-t64.map $(LDFLAGS) -o $@ $< $(SO_LIBS)

$(LIB)/$(SONAME) $(LIB)/libaio.so: | $(LIB)/$(LIBFILE)
	ln -sf $(LIBFILE) $@

$(LIB)/$(SONAME_T64): | $(LIB)/$(LIBFILE_T64)
	ln -sf $(LIBFILE_T64) $@


$(LIB)/libaio.a: $(OBJ)/aio-static.o
	@mkdir -p $(@D)
	rm -f $@
	$(AR) rcD $@ $<

$(BUILD)/include/libaio.h: include/libaio.h
	@mkdir -p $(@D)
	cp $< $@

# Regenerates the checked-in header with cbindgen: tools/header, a crate of
# its own, so that the library never depends on cbindgen.
header:
	$(CARGO) run --manifest-path tools/header/Cargo.toml $(CARGO_FLAGS)

lint:
	@echo "lint: $$($(LINT_CARGO) --version)"
	$(LINT_CARGO) fmt --all -- --check
	$(LINT_CARGO) clippy --all-targets $(CARGO_FLAGS) -- -D warnings
	$(LINT_CARGO) fmt --manifest-path tools/header/Cargo.toml -- --check
	$(LINT_CARGO) clippy --manifest-path tools/header/Cargo.toml --all-targets --locked \
		--target-dir $(CARGO_TARGET_DIR)/tmp/header-tool $(CARGO_FLAGS) -- -D warnings

# Every test: the Rust unit and integration tests drive the C tests, the
# differential tests against the system libaio, the header layout checks,
# libaio's own test harness, fio and the Debian packages. Stable Rust is
# enough; every test binary runs even when one fails (--no-fail-fast).
#
# tests/foreign.rs (the other architectures, in QEMU guests) runs beside the
# rest, its output in $(BUILD)/foreign.log, printed at the end; its i386 test
# runs on this kernel, so after the rest, alone (aio-max-nr is the machine's).
# The bad-input matrix and the unaligned pointers run a second time against
# a library built with Rust's debug assertions (which abort on a misaligned
# access, an overflow...), in $(DEBUG_BUILD).
#
# Then the second pass, scripts/check-io-uring: the test binaries that make
# contexts, again under LIBAIO_BACKEND=io_uring (README.md, "The io_uring
# backend"); the ones it leaves out, and why, it lists first.
DEBUG_BUILD := $(CARGO_TARGET_DIR)/debug-build
TEST_ENV = LIBAIO_RS_LIBDIR=$(CURDIR)/$(LIB)

check: all
	scripts/test-deps
	$(MAKE) lint
	$(MAKE) BUILD=$(DEBUG_BUILD) RUST_PROFILE=dev lib
	$(TEST_ENV) $(CARGO) test $(CARGO_FLAGS) --no-run --tests --test foreign
	@$(TEST_ENV) $(CARGO) test $(CARGO_FLAGS) --test foreign -- --nocapture \
		--test-threads=2 --skip i386 > $(BUILD)/foreign.log 2>&1 & foreign=$$!; \
	status=0; \
	$(TEST_ENV) $(CARGO) test $(CARGO_FLAGS) --no-fail-fast -- --test-threads=2 || status=1; \
	echo "== the bad inputs and unaligned pointers against the debug build ($(DEBUG_BUILD))"; \
	LIBAIO_RS_LIBDIR=$(DEBUG_BUILD)/lib $(CARGO) test $(CARGO_FLAGS) --no-fail-fast \
		--test bad_input --test unaligned -- --test-threads=2 || status=1; \
	echo "== the second pass, under the io_uring backend (scripts/check-io-uring)"; \
	$(TEST_ENV) CARGO="$(CARGO)" CARGO_FLAGS="$(CARGO_FLAGS)" \
		scripts/check-io-uring $(CHECK_IO_URING_ARGS) || status=1; \
	wait $$foreign || status=1; \
	$(TEST_ENV) $(CARGO) test $(CARGO_FLAGS) --test foreign -- --nocapture \
		i386 >> $(BUILD)/foreign.log 2>&1 || status=1; \
	echo "--- tests/foreign.rs ($(BUILD)/foreign.log)"; cat $(BUILD)/foreign.log; \
	exit $$status

# The library built, and its unit tests run, with the oldest Rust the crate
# supports (installed with rustup when missing), in a target directory of
# its own.
msrv:
	rustup toolchain list | grep -q '^$(MSRV)-' || rustup toolchain install $(MSRV) --profile minimal
	$(CARGO) +$(MSRV) build --release --lib --locked --target-dir $(CARGO_TARGET_DIR)/msrv
	$(CARGO) +$(MSRV) test --lib --locked --target-dir $(CARGO_TARGET_DIR)/msrv

# A bounded fuzzing run (tests/fuzz.rs, scripts/fuzz; fuzz/README.md), with
# the nightly toolchain and cargo-fuzz it needs, installed when missing.
fuzz:
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	$(CARGO) +nightly fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	$(CARGO) test $(CARGO_FLAGS) --test fuzz -- --test-threads=1

# ThreadSanitizer over the Rust code (scripts/tsan): a nightly build of the
# library with -Zsanitizer=thread under the multi-threaded stress programs,
# and a canary build whose deliberate race must be reported. x86_64 only.
tsan:
	scripts/test-deps
	scripts/tsan

# The benchmark against the system libaio (bench/README.md); BENCH_ARGS are
# passed on, e.g. BENCH_ARGS="--rounds 9". It needs what the tests need
# (the system libaio-dev, fio, strace, valgrind), installed when missing.
bench: lib
	scripts/test-deps
	bench/run --lib $(LIB) $(BENCH_ARGS)

install: all
	install -d $(DESTDIR)$(libdir)/pkgconfig $(DESTDIR)$(includedir)
	install -m 644 $(LIB)/$(LIBFILE) $(DESTDIR)$(libdir)/$(LIBFILE)
	ln -sf $(LIBFILE) $(DESTDIR)$(libdir)/$(SONAME)
	install -m 644 $(LIB)/$(LIBFILE_T64) $(DESTDIR)$(libdir)/$(LIBFILE_T64)
	ln -sf $(LIBFILE_T64) $(DESTDIR)$(libdir)/$(SONAME_T64)
	ln -sf $(DEV_LIBFILE) $(DESTDIR)$(libdir)/libaio.so
	install -m 644 $(LIB)/libaio.a $(DESTDIR)$(libdir)/libaio.a
	# pkg-config, with the installation directories of this command line.
	sed -e 's|@prefix@|$(prefix)|' -e 's|@libdir@|$(libdir)|' \
		-e 's|@includedir@|$(includedir)|' -e 's|@VERSION@|$(VERSION)|' \
		libaio.pc.in > $(DESTDIR)$(libdir)/pkgconfig/libaio.pc
	chmod 644 $(DESTDIR)$(libdir)/pkgconfig/libaio.pc
	install -m 644 include/libaio.h $(DESTDIR)$(includedir)/libaio.h
ifneq ($(MAN_PAGES),)
	install -d $(DESTDIR)$(mandir)/man3
	install -m 644 $(MAN_PAGES) $(DESTDIR)$(mandir)/man3/
endif

uninstall:
	rm -f $(DESTDIR)$(libdir)/$(LIBFILE) $(DESTDIR)$(libdir)/$(SONAME) \
		$(DESTDIR)$(libdir)/$(LIBFILE_T64) $(DESTDIR)$(libdir)/$(SONAME_T64) \
		$(DESTDIR)$(libdir)/libaio.so $(DESTDIR)$(libdir)/libaio.a \
		$(DESTDIR)$(libdir)/pkgconfig/libaio.pc $(DESTDIR)$(includedir)/libaio.h \
		$(addprefix $(DESTDIR)$(mandir)/man3/,$(notdir $(MAN_PAGES)))

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
