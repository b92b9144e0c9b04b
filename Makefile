# libaio-rs: builds libaio.so.1 and libaio.a from the Rust crate.
#
#   make              build/lib/libaio.so.1.0.2 (+ symlinks), build/lib/libaio.a,
#                     build/include/libaio.h
#   make check        every test (installs the Debian packages the tests need)
#   make install      DESTDIR, prefix, libdir, includedir are honoured
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

RUST_LIB := $(CARGO_TARGET_DIR)/release/libaio_rs.a
GEN := $(BUILD)/gen
OBJ := $(BUILD)/obj
LIB := $(BUILD)/lib
SYMBOLS := src/symbols.txt
SYMAWK := awk -f scripts/symbols.awk

# Linker flags of the shared object: every undefined symbol must resolve
# (-z defs), the version script must match the code (--no-undefined-version),
# and DWARF of the prebuilt core library is dropped (-S).
SO_LDFLAGS := -shared -Wl,-soname,$(SONAME) -Wl,--version-script=$(GEN)/libaio.map \
	-Wl,--gc-sections -Wl,-z,defs -Wl,--no-undefined-version -Wl,-z,relro -Wl,-z,now \
	-Wl,-z,noexecstack -Wl,-S

.PHONY: all lib header check lint install uninstall clean

all: lib $(BUILD)/include/libaio.h

lib: $(LIB)/$(LIBFILE) $(LIB)/$(SONAME) $(LIB)/libaio.so $(LIB)/libaio.a

RUST_SOURCES := Cargo.toml $(wildcard Cargo.lock) build.rs $(shell find src -type f)

$(RUST_LIB): $(RUST_SOURCES)
	$(CARGO) build --release --lib --no-default-features $(CARGO_FLAGS)
	@touch $@

$(GEN)/libaio.map: $(SYMBOLS) scripts/symbols.awk
	@mkdir -p $(@D)
	$(SYMAWK) -v what=map $(SYMBOLS) > $@

$(GEN)/%.syms: $(SYMBOLS) scripts/symbols.awk
	@mkdir -p $(@D)
	$(SYMAWK) -v what=$* $(SYMBOLS) > $@

# One relocatable object holding just what the exported functions reach.
$(OBJ)/aio.o: $(RUST_LIB) $(GEN)/roots.syms
	@mkdir -p $(@D)
	$(LD) -r --gc-sections $$(sed 's/^/-u /' $(GEN)/roots.syms) \
		--whole-archive $(RUST_LIB) -o $@.tmp
	$(OBJCOPY) --strip-debug --remove-section=.llvmbc --remove-section=.llvmcmd $@.tmp $@
	@rm -f $@.tmp

# For the shared object: implementations renamed to their versioned names.
$(OBJ)/aio-shared.o: $(OBJ)/aio.o $(GEN)/renames.syms
	$(OBJCOPY) --redefine-syms=$(GEN)/renames.syms $< $@

# For the static archive: only the default names stay global, so it links
# into executables and into other shared objects alike.
$(OBJ)/aio-static.o: $(OBJ)/aio.o $(GEN)/defaults.syms
	$(OBJCOPY) --keep-global-symbols=$(GEN)/defaults.syms $< $@

$(LIB)/$(LIBFILE): $(OBJ)/aio-shared.o $(GEN)/libaio.map
	@mkdir -p $(@D)
	$(CC) $(SO_LDFLAGS) $(LDFLAGS) -o $@ $<

$(LIB)/$(SONAME) $(LIB)/libaio.so: | $(LIB)/$(LIBFILE)
	ln -sf $(LIBFILE) $@

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
check: all
	scripts/test-deps
	$(MAKE) lint
	LIBAIO_RS_LIBDIR=$(CURDIR)/$(LIB) $(CARGO) test $(CARGO_FLAGS) -- --test-threads=2

install: lib
	install -d $(DESTDIR)$(libdir) $(DESTDIR)$(includedir)
	install -m 644 $(LIB)/$(LIBFILE) $(DESTDIR)$(libdir)/$(LIBFILE)
	ln -sf $(LIBFILE) $(DESTDIR)$(libdir)/$(SONAME)
	ln -sf $(LIBFILE) $(DESTDIR)$(libdir)/libaio.so
	install -m 644 $(LIB)/libaio.a $(DESTDIR)$(libdir)/libaio.a
	install -m 644 include/libaio.h $(DESTDIR)$(includedir)/libaio.h

uninstall:
	rm -f $(DESTDIR)$(libdir)/$(LIBFILE) $(DESTDIR)$(libdir)/$(SONAME) \
		$(DESTDIR)$(libdir)/libaio.so $(DESTDIR)$(libdir)/libaio.a \
		$(DESTDIR)$(includedir)/libaio.h

clean:
	rm -rf $(BUILD)
	$(CARGO) clean
