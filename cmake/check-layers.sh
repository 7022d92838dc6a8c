#!/bin/sh
# The layering check (see the top of CMakeLists.txt): every #include of a file of this repository
# must name a file of the including file's own layer or of a layer it links. The compiler cannot
# tell: every layer compiles with the repository root as its include root (#include
# "coherence/engine.h"), so "vmm/machine.h" from coherence/ would compile, and with static
# libraries it would even link as long as the final executable has everything.
#
# usage: check-layers.sh SOURCE_DIR LAYER_MAP
# LAYER_MAP (written by CMakeLists.txt) has two kinds of lines:
#   file  LAYER PATH             PATH (relative to SOURCE_DIR) belongs to LAYER
#   allow LAYER LAYER...         what the first LAYER may include: itself and everything it links
# An include is looked up as the compiler does: a quoted one first next to the including file,
# then from the repository root. A repository file that is in no layer may not be included at all;
# anything else (system and third-party headers) is not this check's business.
set -eu
src=$1
map=$2

exec awk -v src="$src" '
function exists(path, line, r) {
	r = (getline line < path)
	if (r >= 0)
		close(path)
	return r >= 0
}
function dir_of(path) {
	if (sub(/\/[^\/]*$/, "", path))
		return path "/"
	return ""
}
# "a/./b/../c" -> "a/c", so that a relative include is classified like the root-relative one.
function normalize(path, parts, n, i, out, k) {
	n = split(path, parts, "/")
	k = 0
	for (i = 1; i <= n; i++) {
		if (parts[i] == "" || parts[i] == ".")
			continue
		if (parts[i] == ".." && k > 0 && out[k] != "..")
			k--
		else
			out[++k] = parts[i]
	}
	path = ""
	for (i = 1; i <= k; i++)
		path = path (i > 1 ? "/" : "") out[i]
	return path
}
$1 == "file" {
	layer[$3] = $2
	files[++nfiles] = $3
	next
}
$1 == "allow" {
	for (i = 3; i <= NF; i++)
		allowed[$2 SUBSEP $i] = 1
	what[$2] = $3
	for (i = 4; i <= NF; i++)
		what[$2] = what[$2] ", " $i
	next
}
END {
	bad = 0
	for (n = 1; n <= nfiles; n++) {
		f = files[n]
		from = layer[f]
		lineno = 0
		while ((getline line < (src "/" f)) > 0) {
			lineno++
			if (line !~ /^[ \t]*#[ \t]*include[ \t]*["<]/)
				continue
			quoted = line ~ /^[ \t]*#[ \t]*include[ \t]*"/
			inc = line
			sub(/^[ \t]*#[ \t]*include[ \t]*["<]/, "", inc)
			sub(/[">].*$/, "", inc)
			target = ""
			rel = normalize(dir_of(f) inc)
			if (quoted && exists(src "/" rel))
				target = rel
			else if (exists(src "/" inc))
				target = normalize(inc)
			if (target != "" && !(target in layer)) {
				printf "%s/%s:%d: error: includes \"%s\", which is in no layer of " \
				       "CMakeLists.txt\n", src, f, lineno, inc
				bad++
				continue
			}
			if (target == "")
				continue
			to = layer[target]
			if (!((from SUBSEP to) in allowed)) {
				printf "%s/%s:%d: error: layer %s may not include \"%s\" (layer %s); " \
				       "it may include: %s\n", src, f, lineno, from, inc, to, what[from]
				bad++
			}
		}
		close(src "/" f)
	}
	if (bad) {
		printf "layer check: %d wrong include(s). Each layer may include only its own headers " \
		       "and those of the layers it links (the layer graph at the top of CMakeLists.txt; " \
		       "docs/architecture.md).\n", bad
		exit 1
	}
}
' "$map"
