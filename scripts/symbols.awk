#!/usr/bin/awk -f
# Derives the linker inputs from src/symbols.txt (see its header).
#
#   awk -v what=map      -f scripts/symbols.awk src/symbols.txt   version script
#   awk -v what=renames  -f ...   objcopy --redefine-syms list: impl -> name@[@]version
#   awk -v what=roots    -f ...   the implementation symbols, one per line
#   awk -v what=defaults -f ...   the default (@@) names, one per line
#   awk -v what=dynsym   -f ...   the expected `readelf --dyn-syms` names, sorted
#
# Optional: -v extra_node=LIBAIO_0.6 appends an empty node inheriting from the
# last one (the libaio.so.1t64 variant declares it).

/^[ \t]*(#|$)/ { next }
{
	name = $1; version = $2; binding = $3; impl = $4
	if (NF != 4 || (binding != "default" && binding != "compat")) {
		printf "symbols.txt:%d: malformed line\n", NR > "/dev/stderr"; exit 1
	}
	if (!(version in seen)) { seen[version] = 1; nodes[++nnodes] = version }
	members[version] = members[version] "\t\t" name ";\n"
	at = (binding == "default") ? "@@" : "@"
	if (what == "renames") print impl, name at version
	else if (what == "roots") print impl
	else if (what == "defaults" && binding == "default") print name
	else if (what == "dynsym") dyn[++ndyn] = name at version
}
END {
	if (what == "map") {
		if (extra_node != "") nodes[++nnodes] = extra_node
		for (i = 1; i <= nnodes; i++) {
			v = nodes[i]
			printf "%s {\n", v
			if (members[v] != "") printf "\tglobal:\n%s", members[v]
			if (i == 1) printf "\tlocal:\n\t\t*;\n"
			printf "}%s;\n", (i == 1) ? "" : " " nodes[i - 1]
		}
	} else if (what == "dynsym") {
		for (i = 1; i <= nnodes; i++) dyn[++ndyn] = nodes[i]
		if (extra_node != "") dyn[++ndyn] = extra_node
		for (i = 1; i <= ndyn; i++) print dyn[i] | "LC_ALL=C sort"
	}
}
