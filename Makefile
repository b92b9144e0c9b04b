# libaio-rs: builds libaio.so.1 and libaio.a from the Rust crate.
#
#   make              build/lib/libaio.so.1.0.2 and libaio.so.1t64.0.2 (+ symlinks),
#                     build/lib/libaio.a, build/include/libaio.h
#   make check        every test (installs the Debian packages the tests need)
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
comma := ,
# The interface version, for pkg-config.
VERSION := 0.3.113

# A Rust target triple to cross-build for (with CC, LD, OBJCOPY and AR set
# to the matching toolchain), e.g. RUST_TARGET=i686-unknown-linux-gnu
# CC=i686-linux-gnu-gcc ...; empty for the host.
RUST_TARGET ?=
RUST_LIB := $(CARGO_TARGET_DIR)/$(if $(RUST_TARGET),$(RUST_TARGET)/)release/libaio_rs.a
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
	-Wl,-z,relro -Wl,-z,now -Wl,-z,noexecstack -Wl,-S

MAN_PAGES := $(wildcard man/*.3)

.PHONY: all lib header check lint install uninstall clean bench FORCE

all: lib $(BUILD)/include/libaio.h

lib: $(LIB)/$(LIBFILE) $(LIB)/$(SONAME) $(LIB)/libaio.so $(LIB)/libaio.a \
	$(LIB)/$(LIBFILE_T64) $(LIB)/$(SONAME_T64)

# Cargo decides whether anything changed (sources, features, toolchain) and
# leaves the archive untouched when nothing did, so the steps below run only
# when needed.
$(RUST_LIB): FORCE
	$(CARGO) build --release --lib --no-default-features $(if $(RUST_TARGET),--target $(RUST_TARGET)) $(CARGO_FLAGS)

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
		$(LDFLAGS) -o $@ $<

# On 64-bit targets the t64 script names LIBAIO_0.6 functions that do not
# exist there (see src/symbols.txt), so undefined names are allowed.
$(LIB)/$(LIBFILE_T64): $(OBJ)/aio-shared-t64.o $(GEN)/libaio-t64.map
	@mkdir -p $(@D)
	$(CC) $(SO_LDFLAGS) $(if $(filter 64,$(BITS)),-Wl$(comma)--undefined-version) \
		-Wl,-soname,$(SONAME_T64) -Wl,--version-script=$(GEN)/libaio-t64.map $(LDFLAGS) -o $@ $<

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

# Regenerates the checked-in header (needs the cbindgen crate).
header:
	$(CARGO) build --lib --features header $(CARGO_FLAGS)
	cp "$$(ls -t $(CARGO_TARGET_DIR)/debug/build/libaio-rs-*/out/libaio.h | head -n 1)" include/libaio.h

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets $(CARGO_FLAGS) -- -D warnings

# Every test: the Rust unit and integration tests drive the C tests, the
# differential tests against the system libaio, the header layout checks,
# libaio's own test harness and fio.
#
# tests/foreign.rs (the other architectures, in QEMU guests) runs beside the
# rest, its output in $(BUILD)/foreign.log, printed at the end; its i386 test
# runs on this kernel, so after the rest, alone (aio-max-nr is the machine's).
check: all
	scripts/test-deps
	$(MAKE) lint
	LIBAIO_RS_LIBDIR=$(CURDIR)/$(LIB) $(CARGO) test $(CARGO_FLAGS) --no-run --tests --test foreign
	@LIBAIO_RS_LIBDIR=$(CURDIR)/$(LIB) $(CARGO) test $(CARGO_FLAGS) --test foreign -- --nocapture \
		--test-threads=2 --skip i386 > $(BUILD)/foreign.log 2>&1 & foreign=$$!; \
	LIBAIO_RS_LIBDIR=$(CURDIR)/$(LIB) $(CARGO) test $(CARGO_FLAGS) --no-fail-fast -- --test-threads=2; \
	status=$$?; wait $$foreign; foreign_status=$$?; \
	LIBAIO_RS_LIBDIR=$(CURDIR)/$(LIB) $(CARGO) test $(CARGO_FLAGS) --test foreign -- --nocapture \
		i386 >> $(BUILD)/foreign.log 2>&1; i386_status=$$?; \
	echo "--- tests/foreign.rs ($(BUILD)/foreign.log)"; cat $(BUILD)/foreign.log; \
	[ $$status -eq 0 ] && [ $$foreign_status -eq 0 ] && [ $$i386_status -eq 0 ]

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
	ln -sf $(LIBFILE) $(DESTDIR)$(libdir)/libaio.so
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
