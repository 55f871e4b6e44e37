# yamlflat.awk: flattens the small YAML subset that cloud-init NoCloud seeds
# use (meta-data, network-config) into one "path=value" line per scalar:
#
#   ethernets:                         ethernets.eth0.match.macaddress=52:54:00:12:34:56
#     eth0:                            ethernets.eth0.addresses.0=10.0.0.5/24
#       match: {macaddress: "52:54:00:12:34:56"}   -->   ethernets.eth0.routes.0.to=0.0.0.0/0
#       addresses: [10.0.0.5/24]       ethernets.eth0.routes.0.via=10.0.0.1
#       routes:
#       - to: 0.0.0.0/0
#         via: 10.0.0.1
#
# Path components are joined with "."; sequence items are numbered from 0.
# An empty value (key with nothing after it and nothing nested) prints nothing.
# With -v shell=PFX the output is instead shell assignments to source (see
# emit below).
#
# Understood (see README.md): block mappings and block sequences by
# indentation (spaces only; a sequence may sit at its parent key's indent,
# as libyaml/PyYAML emit it); "- key: value" items; flow sequences [a, b] and
# flow mappings {k: v}, nested and spanning lines (so JSON documents work);
# plain, 'single' ('' escape) and "double" (\" \\ \n \t escapes) quoted
# scalars; "#" comments; "---" / "..." markers.
# Not understood: anchors/aliases, tags, block scalars (| and >), multi-line
# plain scalars, complex keys ("? "), several documents in one file.
# Runs under busybox awk (and gawk/mawk).

# 1 if the one character c is one of those in set (no regexps: busybox awk
# mishandles escaped brackets inside bracket expressions).
function isin(c, set) { return c != "" && index(set, c) > 0 }

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

function join(p, k) { return (p == "") ? k : p "." k }

function san(p) { gsub(/[^A-Za-z0-9]/, "_", p); return p }

# Plain mode: "path=value".  Shell mode (-v shell=PFX): "PFX_<path>='value'"
# with every character of <path> that is not a letter or digit made "_",
# plus, for every mapping or sequence, "PFX_<path>__keys='k1 k2 ...'" (its
# keys, or its indices 0 1 ..., in order; PFX__keys for the top level).
function emit(path, v,    n, i, parent, key, seg) {
    if (shell == "") { print path "=" v; return }
    gsub(/'/, "'\\''", v)
    print shell "_" san(path) "='" v "'"
    n = split(path, seg, ".")
    parent = ""
    for (i = 1; i <= n; i++) {
        key = seg[i]
        if (!((parent SUBSEP key) in HASKEY)) {
            HASKEY[parent SUBSEP key] = 1
            if (parent in KEYS) KEYS[parent] = KEYS[parent] " " key
            else KEYS[parent] = key
        }
        parent = (parent == "") ? key : parent "." key
    }
}

function keys_out(    p) {
    if (shell == "") return
    for (p in KEYS) print shell (p == "" ? "" : "_" san(p)) "__keys='" KEYS[p] "'"
}

# Remove a comment: "#" at the start or after a blank, outside quotes.
function strip_comment(s,    i, c, q, n, prev) {
    q = ""; n = length(s); prev = " "
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (q != "") {
            if (q == "\"" && c == "\\") { i++; prev = "x"; continue }
            if (c == q) q = ""
        } else if (c == "\"" || c == "'") {
            q = c
        } else if (c == "#" && (prev == " " || prev == "\t")) {
            return substr(s, 1, i - 1)
        }
        prev = c
    }
    return s
}

# Net count of open flow brackets outside quotes (to join multi-line flows).
function bracket_depth(s,    i, c, q, n, d) {
    q = ""; n = length(s); d = 0
    for (i = 1; i <= n; i++) {
        c = substr(s, i, 1)
        if (q != "") {
            if (q == "\"" && c == "\\") { i++; continue }
            if (c == q) q = ""
        } else if (c == "\"" || c == "'") q = c
        else if (c == "[" || c == "{") d++
        else if (c == "]" || c == "}") d--
    }
    return d
}

# ---- flow parser over the global string S at position P -------------------
function skipws() { while (P <= length(S) && isin(substr(S, P, 1), " \t\r\n")) P++ }

function peek() { return substr(S, P, 1) }

# A quoted scalar starting at P (the quote); leaves P after the closing quote.
function quoted(    q, c, out, e) {
    q = peek(); P++; out = ""
    while (P <= length(S)) {
        c = substr(S, P, 1)
        if (q == "'" && c == "'") {
            if (substr(S, P + 1, 1) == "'") { out = out "'"; P += 2; continue }
            P++; return out
        }
        if (q == "\"" && c == "\\") {
            e = substr(S, P + 1, 1); P += 2
            if (e == "n") out = out "\n"
            else if (e == "t") out = out "\t"
            else out = out e
            continue
        }
        if (q == "\"" && c == "\"") { P++; return out }
        out = out c; P++
    }
    return out
}

# A plain scalar inside a flow collection: ends at , ] } or at ": " when
# `iskey` (a ":" inside a value, e.g. a MAC address, is part of it).
function flowplain(iskey,    c, n, out) {
    out = ""
    while (P <= length(S)) {
        c = substr(S, P, 1)
        if (c == "," || c == "]" || c == "}") break
        if (c == ":" && iskey) {
            n = substr(S, P + 1, 1)
            if (n == "" || isin(n, " \t,[]{}\"'")) break
        }
        out = out c; P++
    }
    return trim(out)
}

function flowscalar(iskey) {
    skipws()
    if (peek() == "\"" || peek() == "'") return quoted()
    return flowplain(iskey)
}

function flowvalue(path,    i, k) {
    skipws()
    if (peek() == "[") {
        P++; i = 0
        while (P <= length(S)) {
            skipws()
            if (peek() == "]") { P++; return }
            if (peek() == ",") { P++; continue }
            flowvalue(join(path, i)); i++
        }
    } else if (peek() == "{") {
        P++
        while (P <= length(S)) {
            skipws()
            if (peek() == "}") { P++; return }
            if (peek() == ",") { P++; continue }
            k = flowscalar(1); skipws()
            if (peek() == ":") { P++; flowvalue(join(path, k)) }
        }
    } else {
        k = flowscalar(0)
        if (k != "" || path != "") emit(path, k)
    }
}

# A value after "key:" or "- " on a block line.
function value(path, v,    c) {
    v = trim(v)
    if (v == "" || v == "~" || v == "null") return
    c = substr(v, 1, 1)
    if (c == "[" || c == "{") { S = v; P = 1; flowvalue(path); return }
    if (c == "\"" || c == "'") { S = v; P = 1; emit(path, quoted()); return }
    emit(path, v)
}

# Split a block line "key: value" / "key:" into KEY and VAL; 0 if not a pair.
function splitkey(t,    i, n, c, nx) {
    if (substr(t, 1, 1) == "\"" || substr(t, 1, 1) == "'") {
        S = t; P = 1; KEY = quoted(); skipws()
        if (peek() != ":") return 0
        VAL = substr(S, P + 1); return 1
    }
    n = length(t)
    for (i = 1; i <= n; i++) {
        c = substr(t, i, 1)
        if (c != ":") continue
        nx = substr(t, i + 1, 1)
        if (nx == "" || nx == " " || nx == "\t") {
            KEY = trim(substr(t, 1, i - 1)); VAL = substr(t, i + 1); return 1
        }
    }
    return 0
}

function push(ind, path, kind) {
    SP++; IND[SP] = ind; PATH[SP] = path; KIND[SP] = kind; CNT[SP] = 0
}

function isitem(t) { return t == "-" || substr(t, 1, 2) == "- " || substr(t, 1, 2) == "-\t" }

function line(ind, t,    rest, p, off) {
    if (HAVEPEND) {
        HAVEPEND = 0
        if (ind > PENDIND || (ind == PENDIND && isitem(t) && PENDKEY))
            push(ind, PEND, isitem(t) ? "seq" : "map")
    }
    while (SP > 0 && IND[SP] > ind) SP--
    if (SP > 0 && IND[SP] == ind && KIND[SP] == "seq" && !isitem(t)) SP--
    if (isitem(t)) {
        if (KIND[SP] != "seq") push(ind, PATH[SP], "seq")   # tolerate odd input
        p = join(PATH[SP], CNT[SP]); CNT[SP]++
        rest = substr(t, 2); off = 1
        while (isin(substr(rest, 1, 1), " \t")) { rest = substr(rest, 2); off++ }
        if (rest == "") { HAVEPEND = 1; PEND = p; PENDIND = ind; PENDKEY = 0; return }
        if (isitem(rest) || (!isin(substr(rest, 1, 1), "[{") && splitkey(rest))) {
            HAVEPEND = 1; PEND = p; PENDIND = ind; PENDKEY = 0
            line(ind + off, rest)
            return
        }
        value(p, rest)
        return
    }
    if (SP == 0 && ind == 0 && isin(substr(t, 1, 1), "[{")) { S = t; P = 1; flowvalue(""); return }
    if (!splitkey(t)) return
    p = join(PATH[SP], KEY)
    if (trim(VAL) == "") { HAVEPEND = 1; PEND = p; PENDIND = ind; PENDKEY = 1; return }
    value(p, VAL)
}

BEGIN { SP = 0; IND[0] = -1; PATH[0] = ""; KIND[0] = "map"; HAVEPEND = 0; ACC = ""; DEPTH = 0 }

{
    sub(/\r$/, "")
    s = strip_comment($0)
    if (ACC != "") {                      # inside a multi-line flow collection
        ACC = ACC " " trim(s); DEPTH += bracket_depth(s)
        if (DEPTH > 0) next
        s = ACC; ACC = ""
    } else {
        if (s ~ /^[ \t]*$/ || s ~ /^(---|\.\.\.)([ \t]|$)/) next
        DEPTH = bracket_depth(s)
        if (DEPTH > 0) { ACC = s; ACCIND = match(s, /[^ ]/) - 1; next }
    }
    ind = match(s, /[^ ]/) - 1
    if (ind < 0) next
    line(ind, trim(s))
}

END { if (ACC != "") line(ACCIND, trim(ACC)); keys_out() }
