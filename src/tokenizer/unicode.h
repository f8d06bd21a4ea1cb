/* unicode.h -- Unicode character data for the tokenizer: general category, White_Space,
 * simple case folding and the normalization forms NFC/NFD/NFKC/NFKD, from tables generated out
 * of Debian's unicode-data (tools/gen_unicode_tables.py -> unicode_tables.c, committed).
 * Unicode 15.0. */
#ifndef DP_TOKENIZER_UNICODE_H
#define DP_TOKENIZER_UNICODE_H
#include <stddef.h>
#include <stdint.h>
#include "core/buf.h"

/* General categories, in the generator's order (Cn = unassigned is 0). */
typedef enum dp_ucat {
  DP_UC_Cn, DP_UC_Lu, DP_UC_Ll, DP_UC_Lt, DP_UC_Lm, DP_UC_Lo, DP_UC_Mn, DP_UC_Mc, DP_UC_Me,
  DP_UC_Nd, DP_UC_Nl, DP_UC_No, DP_UC_Pc, DP_UC_Pd, DP_UC_Ps, DP_UC_Pe, DP_UC_Pi, DP_UC_Pf,
  DP_UC_Po, DP_UC_Sm, DP_UC_Sc, DP_UC_Sk, DP_UC_So, DP_UC_Zs, DP_UC_Zl, DP_UC_Zp, DP_UC_Cc,
  DP_UC_Cf, DP_UC_Cs, DP_UC_Co, DP_UC_COUNT
} dp_ucat;

/* Masks of category sets (bit = 1 << dp_ucat). */
#define DP_UCM(c) (1u << (c))
#define DP_UCM_L (DP_UCM(DP_UC_Lu) | DP_UCM(DP_UC_Ll) | DP_UCM(DP_UC_Lt) | DP_UCM(DP_UC_Lm) | DP_UCM(DP_UC_Lo))
#define DP_UCM_M (DP_UCM(DP_UC_Mn) | DP_UCM(DP_UC_Mc) | DP_UCM(DP_UC_Me))
#define DP_UCM_N (DP_UCM(DP_UC_Nd) | DP_UCM(DP_UC_Nl) | DP_UCM(DP_UC_No))
#define DP_UCM_P (DP_UCM(DP_UC_Pc) | DP_UCM(DP_UC_Pd) | DP_UCM(DP_UC_Ps) | DP_UCM(DP_UC_Pe) | DP_UCM(DP_UC_Pi) | DP_UCM(DP_UC_Pf) | DP_UCM(DP_UC_Po))
#define DP_UCM_S (DP_UCM(DP_UC_Sm) | DP_UCM(DP_UC_Sc) | DP_UCM(DP_UC_Sk) | DP_UCM(DP_UC_So))
#define DP_UCM_Z (DP_UCM(DP_UC_Zs) | DP_UCM(DP_UC_Zl) | DP_UCM(DP_UC_Zp))
#define DP_UCM_C (DP_UCM(DP_UC_Cn) | DP_UCM(DP_UC_Cc) | DP_UCM(DP_UC_Cf) | DP_UCM(DP_UC_Cs) | DP_UCM(DP_UC_Co))

extern const uint16_t dp_ucd_index[0x110000 >> 7];
extern const uint8_t dp_ucd_blocks[][128];
extern const uint32_t dp_ucd_fold[][2];
extern const size_t dp_ucd_fold_count;

static inline uint8_t dp_ucd_raw(uint32_t cp) {
  return cp < 0x110000 ? dp_ucd_blocks[dp_ucd_index[cp >> 7]][cp & 127] : 0;
}
static inline dp_ucat dp_unicode_cat(uint32_t cp) { return (dp_ucat)(dp_ucd_raw(cp) & 31); }
static inline int dp_unicode_is_space(uint32_t cp) { return (dp_ucd_raw(cp) >> 5) & 1; }
/* Simple case folding (CaseFolding.txt statuses C+S); cp itself when it has none. */
uint32_t dp_unicode_fold(uint32_t cp);

/* ---- normalization (unicode_norm.c) ---- */
typedef enum dp_unorm_form { DP_UNORM_NFC, DP_UNORM_NFD, DP_UNORM_NFKC, DP_UNORM_NFKD } dp_unorm_form;
extern const uint8_t dp_unorm_ccc_values[];
extern const uint32_t dp_unorm_prop_limit;
extern const uint8_t dp_unorm_prop_index[];
extern const uint8_t dp_unorm_prop_blocks[][32];
extern const uint32_t dp_unorm_decomp_key[];   /* cp << 8 | compat << 7 | length, sorted */
extern const uint16_t dp_unorm_decomp_off[];
extern const uint32_t dp_unorm_decomp_pool[];
extern const size_t dp_unorm_decomp_count;
extern const uint16_t dp_unorm_comp[];         /* primary composites, by (first, second) */
extern const size_t dp_unorm_comp_count;
/* Canonical combining class (0 for starters and unassigned code points). */
int dp_unicode_ccc(uint32_t cp);
/* Quick check on valid UTF-8: 1 when s is certainly already in `form` (then normalizing is the
 * identity), 0 when it may not be (ASCII and text without decomposable or combining characters
 * take the fast path). */
int dp_unicode_is_normalized(const char *s, size_t n, dp_unorm_form form);
/* Append the `form` normalization of valid UTF-8 s[0..n) to out (UAX #15: full decomposition,
 * canonical ordering, and for NFC/NFKC canonical composition with Hangul and the composition
 * exclusions). DP_ERR_NOMEM on allocation failure, DP_ERR_INVALID_ARG on invalid UTF-8. */
dp_status dp_unicode_normalize(const char *s, size_t n, dp_unorm_form form, dp_buf *out);
#endif
