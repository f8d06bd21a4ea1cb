#!/usr/bin/env python3
"""gen_unicode_tables.py -- write src/tokenizer/unicode_tables.c from Debian's unicode-data.

Reads /usr/share/unicode/{UnicodeData,PropList,CaseFolding,CompositionExclusions}.txt
(apt-get install unicode-data) and emits, for the tokenizer's regex engine (src/tokenizer/regex.c):
  * a two-stage table giving each code point one byte: general category (low 5 bits, the
    dp_ucat enum order of unicode.h) and White_Space (bit 5);
  * the simple case folding pairs (statuses C and S), sorted, for (?i:...);
and for the normalizers (src/tokenizer/unicode_norm.c):
  * a two-stage table giving each code point one byte: index of its canonical combining class
    in dp_unorm_ccc_values (bits 0-5), NFC_QC != Yes (bit 6), NFKC_QC != Yes (bit 7);
  * the one-level decomposition mappings (sorted by code point, compatibility flag, length,
    offset into a pool of code points) -- Hangul syllables are left to the algorithm;
  * the primary composites (canonical pairs minus the full composition exclusions) as indices
    into the mapping table, sorted by (first, second).
The quick-check bits are derived here and, when DerivedNormalizationProps.txt is present,
checked against it (the script stops on any difference).
The output is committed, so building DOPPLER does not need the package.
usage: python3 tools/gen_unicode_tables.py [UNICODE_DIR] [OUT.c]
"""
import os, sys

CATS = ["Cn", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd",
        "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf",
        "Cs", "Co"]
BLOCK = 128

def two_stage(val, limit, block):
    """(index list, distinct blocks in order) of val[0:limit] cut in blocks of `block`."""
    blocks, index = {}, []
    for b in range(limit // block):
        chunk = bytes(val[b * block:(b + 1) * block])
        if chunk not in blocks:
            blocks[chunk] = len(blocks)
        index.append(blocks[chunk])
    return index, [c for c, _ in sorted(blocks.items(), key=lambda kv: kv[1])]

SBASE, LBASE, VBASE, TBASE, LCOUNT, VCOUNT, TCOUNT = 0xAC00, 0x1100, 0x1161, 0x11A7, 19, 21, 28
SCOUNT = LCOUNT * VCOUNT * TCOUNT

def norm_tables(udir, ccc, decomp):
    excl = set()
    with open(os.path.join(udir, "CompositionExclusions.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                excl.add(int(line, 16))

    def full(cp, compat):
        if SBASE <= cp < SBASE + SCOUNT:
            s = cp - SBASE
            r = [LBASE + s // (VCOUNT * TCOUNT), VBASE + (s % (VCOUNT * TCOUNT)) // TCOUNT]
            return r + ([TBASE + s % TCOUNT] if s % TCOUNT else [])
        d = decomp.get(cp)
        if not d or (d[0] and not compat):
            return [cp]
        return [x for c in d[1] for x in full(c, compat)]

    # primary composites: canonical 2-char mappings, not excluded, starter decompositions
    comp = {}
    for cp, (compat, m) in decomp.items():
        if not compat and len(m) == 2 and cp not in excl and not ccc.get(cp) and not ccc.get(m[0]):
            comp[(m[0], m[1])] = cp
    seconds = {b for (_, b) in comp} | set(range(VBASE, VBASE + VCOUNT)) | set(range(TBASE + 1, TBASE + TCOUNT))
    composites = set(comp.values())
    qc = {"NFC_QC": {}, "NFKC_QC": {}}
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        nfd = full(cp, False)
        nfkd = full(cp, True)
        hangul = SBASE <= cp < SBASE + SCOUNT
        nfc_no = nfd != [cp] and cp not in composites and not hangul
        if nfc_no:
            qc["NFC_QC"][cp] = "N"
        elif cp in seconds:
            qc["NFC_QC"][cp] = "M"
        if nfc_no or nfkd != nfd:
            qc["NFKC_QC"][cp] = "N"
        elif cp in seconds:
            qc["NFKC_QC"][cp] = "M"
    derived = os.path.join(udir, "DerivedNormalizationProps.txt")
    if os.path.exists(derived):
        ref = {"NFC_QC": {}, "NFKC_QC": {}}
        with open(derived, encoding="utf-8") as f:
            for line in f:
                line = line.split("#")[0].strip()
                p = [x.strip() for x in line.split(";")]
                if len(p) == 3 and p[1] in ref:
                    lo, _, hi = p[0].partition("..")
                    for c in range(int(lo, 16), int(hi or lo, 16) + 1):
                        ref[p[1]][c] = p[2]
        for k in ref:
            if ref[k] != qc[k]:
                diff = sorted(set(ref[k].items()) ^ set(qc[k].items()))[:8]
                sys.exit("derived %s differs from DerivedNormalizationProps.txt: %s" % (k, diff))

    ccc_values = sorted(set(ccc.values()) | {0})
    assert len(ccc_values) <= 64
    prop = bytearray(0x110000)
    for cp, c in ccc.items():
        prop[cp] = ccc_values.index(c)
    for cp in qc["NFC_QC"]:
        prop[cp] |= 0x40
    for cp in qc["NFKC_QC"]:
        prop[cp] |= 0x80
    NBLOCK = 32
    limit = (max(cp for cp in range(0x110000) if prop[cp]) // NBLOCK + 1) * NBLOCK
    index, blocks = two_stage(prop, limit, NBLOCK)
    assert len(blocks) <= 256

    keys = sorted(decomp)
    pool, dkey, doff = [], [], []
    for cp in keys:
        compat, m = decomp[cp]
        assert len(m) < 128 and cp < (1 << 24)
        dkey.append(cp << 8 | (0x80 if compat else 0) | len(m))
        doff.append(len(pool))
        pool += m
    assert len(pool) < 65536
    pos = {cp: i for i, cp in enumerate(keys)}
    comps = [pos[c] for _, c in sorted(comp.items())]

    o = []
    o.append("")
    o.append("/* ---- normalization (NFC/NFD/NFKC/NFKD): see unicode.h and unicode_norm.c ---- */")
    o.append("const uint8_t dp_unorm_ccc_values[%d] = {%s};" % (len(ccc_values), ",".join(map(str, ccc_values))))
    o.append("const uint32_t dp_unorm_prop_limit = 0x%X;" % limit)
    o.append("const uint8_t dp_unorm_prop_index[%d] = {" % len(index))
    for i in range(0, len(index), 32):
        o.append("  " + ",".join(str(x) for x in index[i:i + 32]) + ",")
    o.append("};")
    o.append("const uint8_t dp_unorm_prop_blocks[%d][%d] = {" % (len(blocks), NBLOCK))
    for chunk in blocks:
        o.append("  {" + ",".join(str(x) for x in chunk) + "},")
    o.append("};")
    o.append("/* cp << 8 | compat << 7 | length, sorted; mapping at dp_unorm_decomp_pool[dp_unorm_decomp_off[i]] */")
    o.append("const uint32_t dp_unorm_decomp_key[%d] = {" % len(dkey))
    for i in range(0, len(dkey), 10):
        o.append("  " + "".join("0x%X," % x for x in dkey[i:i + 10]))
    o.append("};")
    o.append("const uint16_t dp_unorm_decomp_off[%d] = {" % len(doff))
    for i in range(0, len(doff), 16):
        o.append("  " + ",".join(str(x) for x in doff[i:i + 16]) + ",")
    o.append("};")
    o.append("const uint32_t dp_unorm_decomp_pool[%d] = {" % len(pool))
    for i in range(0, len(pool), 12):
        o.append("  " + "".join("0x%X," % x for x in pool[i:i + 12]))
    o.append("};")
    o.append("const size_t dp_unorm_decomp_count = %d;" % len(dkey))
    o.append("/* primary composites: indices into dp_unorm_decomp_key, sorted by (first, second) */")
    o.append("const uint16_t dp_unorm_comp[%d] = {" % len(comps))
    for i in range(0, len(comps), 16):
        o.append("  " + ",".join(str(x) for x in comps[i:i + 16]) + ",")
    o.append("};")
    o.append("const size_t dp_unorm_comp_count = %d;" % len(comps))
    print("normalization: %d ccc values, %d prop blocks of %d below 0x%X, %d mappings (pool %d), %d composites"
          % (len(ccc_values), len(blocks), NBLOCK, limit, len(dkey), len(pool), len(comps)))
    return o

def main():
    udir = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/unicode"
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "src", "tokenizer", "unicode_tables.c")
    val = bytearray(0x110000)  # Cn = 0
    first = None
    ccc, decomp = {}, {}  # cp -> class (non-zero only); cp -> (compat, [cps])
    with open(os.path.join(udir, "UnicodeData.txt"), encoding="utf-8") as f:
        for line in f:
            p = line.split(";")
            cp, name, cat = int(p[0], 16), p[1], CATS.index(p[2])
            if int(p[3]):
                ccc[cp] = int(p[3])
            if p[5]:
                d = p[5].split()
                compat = d[0].startswith("<")
                decomp[cp] = (compat, [int(x, 16) for x in (d[1:] if compat else d)])
            if name.endswith(", First>"):
                first = cp
                continue
            if name.endswith(", Last>"):
                for c in range(first, cp + 1):
                    val[c] = cat
                first = None
                continue
            val[cp] = cat
    with open(os.path.join(udir, "PropList.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            rng, prop = [x.strip() for x in line.split(";")]
            if prop != "White_Space":
                continue
            lo, _, hi = rng.partition("..")
            for c in range(int(lo, 16), int(hi or lo, 16) + 1):
                val[c] |= 0x20
    folds = []
    with open(os.path.join(udir, "CaseFolding.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            p = [x.strip() for x in line.split(";")]
            if p[1] in ("C", "S"):
                folds.append((int(p[0], 16), int(p[2], 16)))
    folds.sort()
    blocks, index = {}, []
    for b in range(0x110000 // BLOCK):
        chunk = bytes(val[b * BLOCK:(b + 1) * BLOCK])
        if chunk not in blocks:
            blocks[chunk] = len(blocks)
        index.append(blocks[chunk])
    o = []
    o.append("/* unicode_tables.c -- GENERATED by tools/gen_unicode_tables.py from Debian's unicode-data")
    o.append(" * (UnicodeData.txt, PropList.txt, CaseFolding.txt, CompositionExclusions.txt). Do not edit;")
    o.append(" * rerun the script.")
    o.append(" * Per code point one byte: general category (bits 0-4, enum dp_ucat) | White_Space (bit 5),")
    o.append(" * looked up as dp_ucd_blocks[dp_ucd_index[cp >> 7]][cp & 127]. Plus simple case folding and")
    o.append(" * the normalization data (combining classes, quick-check bits, decompositions, composites). */")
    o.append('#include "tokenizer/unicode.h"')
    o.append("")
    o.append("const uint16_t dp_ucd_index[%d] = {" % len(index))
    for i in range(0, len(index), 16):
        o.append("  " + ",".join(str(x) for x in index[i:i + 16]) + ",")
    o.append("};")
    o.append("const uint8_t dp_ucd_blocks[%d][%d] = {" % (len(blocks), BLOCK))
    for chunk, _ in sorted(blocks.items(), key=lambda kv: kv[1]):
        o.append("  {" + ",".join(str(x) for x in chunk) + "},")
    o.append("};")
    o.append("const uint32_t dp_ucd_fold[%d][2] = {" % len(folds))
    for i in range(0, len(folds), 6):
        o.append("  " + "".join("{0x%X,0x%X}," % fp for fp in folds[i:i + 6]))
    o.append("};")
    o.append("const size_t dp_ucd_fold_count = %d;" % len(folds))
    o += norm_tables(udir, ccc, decomp)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(o) + "\n")
    print("wrote %s: %d blocks, %d folds" % (out, len(blocks), len(folds)))

if __name__ == "__main__":
    main()
