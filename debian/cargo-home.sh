#!/bin/sh
# cargo-home.sh HOME CRATES: makes HOME a cargo home whose configuration
# takes every crate from the directory CRATES (Debian's packaged crates,
# /usr/share/cargo/registry, or debian/vendor) in place of crates.io, and
# forbids the network. Used by debian/rules and debian/tests/unit-tests.
set -eu
mkdir -p "$1"
printf '%s\n' \
	'[source.crates-io]' \
	'replace-with = "local-crates"' \
	'' \
	'[source.local-crates]' \
	"directory = \"$2\"" \
	'' \
	'[net]' \
	'offline = true' \
	> "$1/config.toml"
