#!/bin/sh
# vendor.sh: copies the crates Cargo.lock names into debian/vendor, so that
# debian/rules can build without the network (it points cargo at that
# directory; see debian/README.source). Run it from anywhere, once per tree:
#
#   debian/vendor.sh
#
# It takes the crates from cargo's local cache when they are all there, and
# downloads them otherwise. The result (about 70 MB: cargo vendors every
# crate of the lock file, also those only the optional `header` feature and
# the tests use) is not committed; debian/.gitignore leaves it out.
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
