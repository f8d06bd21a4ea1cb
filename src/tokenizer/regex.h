/* regex.h -- the small backtracking regex engine used by tokenizer pretokenizers (Split with a
 * "Regex" pattern, ByteLevel's GPT-2 pattern). It runs over code points, not bytes, and gives
 * leftmost-first (Perl / Oniguruma) priority, as HF tokenizers' Oniguruma does.
 *
 * Supported syntax (what tokenizer.json files use):
 *   literals (UTF-8), escapes \r \n \t \f \v \0 \\ and escaped punctuation, \xHH, \x{H..}, \uHHHH
 *   \s \S (White_Space), \d \D (Nd), \w \W (L, M, Nd, Pc), \p{X} \P{X} \pL for X in
 *   L Lu Ll Lt Lm Lo M Mn Mc Me N Nd Nl No P S Z C (and their long names, e.g. Letter),
 *   classes [..] with ranges and negation [^..], '.', ^ $ (input start / end),
 *   groups (..) (?:..), case-insensitive groups (?i:..), lookaheads (?=..) (?!..),
 *   alternation |, quantifiers ? * + {m} {m,} {m,n}, each optionally lazy (trailing ?).
 * Not supported (a compile error says so): backreferences, lookbehind, possessive quantifiers,
 * an unbounded repeat of something that can match empty. Case folding is Unicode simple folding.
 * A match attempt gives up with an error after a step budget (linear in the input), so a hostile
 * pattern cannot hang the engine. Empty matches are never reported. */
#ifndef DP_TOKENIZER_REGEX_H
#define DP_TOKENIZER_REGEX_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"

typedef struct dp_regex dp_regex;

/* Compile pattern[0..len) (UTF-8). Errors name the byte offset in the pattern. */
dp_status dp_regex_compile(const char *pattern, size_t len, dp_regex **out);
void dp_regex_free(dp_regex *re);

/* Leftmost non-empty match in cps[from..n): on success returns DP_OK with *found = 1 and
 * [*start, *end) in code-point indices; *found = 0 when there is none. Errors: DP_ERR_UNSUPPORTED
 * (step budget exceeded), DP_ERR_NOMEM. The regex object holds scratch space: not reentrant. */
dp_status dp_regex_find(dp_regex *re, const uint32_t *cps, size_t n, size_t from,
                        int *found, size_t *start, size_t *end);
#endif
