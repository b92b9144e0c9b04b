#!/usr/bin/awk -f
# Derives the linker inputs from src/symbols.txt (see its header).
#
#   awk -v what=WHAT [-v library=t64] [-v bits=32] -f scripts/symbols.awk src/symbols.txt
#
# WHAT is one of:
#   map       the version script
#   renames   objcopy --redefine-syms list: impl -> name@[@]version
#   roots     the implementation symbols, one per line
#   defaults  the default (@@) names, one per line (the static archive's)
#   dynsym    the expected `readelf --dyn-syms` names, sorted
#
# library: "classic" (libaio.so.1, the default) or "t64" (libaio.so.1t64).
# bits: the target's word size, 64 (the default) or 32. Functions marked t64
# exist on 32-bit targets only; on 64-bit ones the t64 version script still
# lists them (undefined), which keeps their node from being marked weak.

BEGIN {
	if (library == "") library = "classic"
	if (bits == "") bits = 64
	if (library != "classic" && library != "t64") fail("library must be classic or t64")
}

function fail(message) {
	printf "symbols.awk: %s\n", message > "/dev/stderr"
	failed = 1
	exit 1
}

/^[ \t]*(#|$)/ { next }
{
	name = $1; version = $2; binding = $3; impl = $4; only = $5
	if (NF != 5 || (binding != "default" && binding != "compat") || (only != "all" && only != "t64"))
		fail(sprintf("symbols.txt:%d: malformed line", NR))
	if (only == "t64" && library != "t64") next
	defined = (only == "all" || bits == 32)

	if (!(version in seen)) { seen[version] = 1; nodes[++nnodes] = version }
	members[version] = members[version] "\t\t" name ";\n"
	if (!defined) next
	at = (binding == "default") ? "@@" : "@"
	if (what == "renames") print impl, name at version
	else if (what == "roots") print impl
	else if (what == "defaults" && binding == "default") print name
	else if (what == "dynsym") dyn[++ndyn] = name at version
}
END {
	if (failed) exit 1
	if (what == "map") {
		for (i = 1; i <= nnodes; i++) {
			v = nodes[i]
			printf "%s {\n", v
			if (members[v] != "") printf "\tglobal:\n%s", members[v]
			if (i == 1) printf "\tlocal:\n\t\t*;\n"
			printf "}%s;\n", (i == 1) ? "" : " " nodes[i - 1]
		}
	} else if (what == "dynsym") {
		for (i = 1; i <= nnodes; i++) dyn[++ndyn] = nodes[i]
		for (i = 1; i <= ndyn; i++) print dyn[i] | "LC_ALL=C sort"
	}
}
