#!/bin/sh
# vendor.sh: copies the crates Cargo.lock names into debian/vendor, for the
# vendored build route (build profile pkg.libaio-rs.vendor: Debian 12, and
# distributions without packaged crates; see debian/README.source), where
# debian/rules points cargo at that directory. Run it from anywhere, once
# per tree:
#
#   debian/vendor.sh
#
# It takes the crates from cargo's local cache when they are all there, and
# downloads them otherwise. The result (the libc crate, about 7 MB) is not
# committed; debian/.gitignore leaves it out.
set -eu
cd "$(dirname "$0")/.."

rm -rf debian/vendor
# The configuration cargo prints goes nowhere: debian/rules writes its own.
if ! cargo vendor --offline --locked --versioned-dirs debian/vendor >/dev/null 2>debian/vendor.log; then
	rm -rf debian/vendor
	cargo vendor --locked --versioned-dirs debian/vendor >/dev/null 2>debian/vendor.log || {
		cat debian/vendor.log >&2
		exit 1
	}
fi
rm -f debian/vendor.log
echo "vendor.sh: $(ls debian/vendor | wc -l) crates in debian/vendor"
