/* test_tokenizer_regex.c -- unit tests of the pretokenizer regex engine (src/tokenizer/regex.c)
 * and the generated Unicode tables: categories, White_Space, case folding, classes, negation,
 * (?i:), (?!), alternation priority, greedy/lazy quantifiers, {m,n}, refusals of unsupported
 * syntax and the step budget. Expected splits are worked out by hand from the Perl/Oniguruma
 * leftmost-first semantics HF tokenizers uses. */
#include <string.h>
#include "core/error.h"
#include "core/utf8.h"
#include "testlib.h"
#include "tokenizer/regex.h"
#include "tokenizer/unicode.h"

/* All matches of pat in text joined with '|' (as find_iter gives them). */
static const char *splits(const char *pat, const char *text) {
  static char out[2048];
  uint32_t cps[512];
  size_t offs[513], n = 0, len = strlen(text);
  for (size_t i = 0; i < len && n < 512;) {
    size_t k = dp_utf8_decode(text + i, len - i, &cps[n]);
    offs[n++] = i;
    i += k ? k : 1;
  }
  offs[n] = len;
  dp_regex *re;
  if (dp_regex_compile(pat, strlen(pat), &re)) return "COMPILE-ERROR";
  out[0] = 0;
  size_t pos = 0, o = 0;
  for (;;) {
    int found; size_t a, b;
    if (dp_regex_find(re, cps, n, pos, &found, &a, &b)) { dp_regex_free(re); return "FIND-ERROR"; }
    if (!found) break;
    if (o) out[o++] = '|';
    memcpy(out + o, text + offs[a], offs[b] - offs[a]);
    o += offs[b] - offs[a];
    out[o] = 0;
    pos = b;
  }
  dp_regex_free(re);
  return out;
}

#define SPLIT(pat, text, want) do { const char *g_ = splits(pat, text); \
    CHECK(!strcmp(g_, want), "/%s/ on \"%s\": got \"%s\" want \"%s\"", pat, text, g_, want); } while (0)

static const char LLAMA3[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

int main(void) {
  /* Unicode tables */
  CHECK(dp_unicode_cat('A') == DP_UC_Lu && dp_unicode_cat('z') == DP_UC_Ll, "ASCII letters");
  CHECK(dp_unicode_cat(0x01C5) == DP_UC_Lt, "U+01C5 is Lt");
  CHECK(dp_unicode_cat(0x02B0) == DP_UC_Lm, "U+02B0 is Lm");
  CHECK(dp_unicode_cat(0x4E2D) == DP_UC_Lo && dp_unicode_cat(0x20000) == DP_UC_Lo, "CJK is Lo (ranges from First/Last)");
  CHECK(dp_unicode_cat(0x0301) == DP_UC_Mn && dp_unicode_cat(0x0903) == DP_UC_Mc, "marks");
  CHECK(dp_unicode_cat('7') == DP_UC_Nd && dp_unicode_cat(0x2167) == DP_UC_Nl && dp_unicode_cat(0xB2) == DP_UC_No, "numbers");
  CHECK(dp_unicode_cat(0x1F600) == DP_UC_So && dp_unicode_cat(0xE000) == DP_UC_Co && dp_unicode_cat(0x0378) == DP_UC_Cn, "So Co Cn");
  CHECK(dp_unicode_is_space(' ') && dp_unicode_is_space(0x85) && dp_unicode_is_space(0xA0) && dp_unicode_is_space(0x3000) &&
        dp_unicode_is_space(0x2028) && !dp_unicode_is_space(0x200B) && !dp_unicode_is_space('x'), "White_Space");
  CHECK(dp_unicode_fold('K') == 'k' && dp_unicode_fold(0x212A) == 'k' && dp_unicode_fold(0x17F) == 's' && dp_unicode_fold(0x3A3) == 0x3C3, "folding");
  CHECK(dp_unicode_cat(0x10FFFF) == DP_UC_Cn && dp_unicode_cat(0x110000) == DP_UC_Cn, "out of range");

  /* classes, categories, quantifiers */
  SPLIT("\\p{L}+", "héllo wörld 中文", "héllo|wörld|中文");
  SPLIT("\\p{Lu}\\p{Ll}*", "HelloWorld ABc", "Hello|World|A|Bc");
  SPLIT("\\p{N}{1,3}", "1234567", "123|456|7");
  SPLIT("[^\\s\\p{L}]+", "a,b;; c!?", ",|;;|!?");
  SPLIT("[a-c]+|x", "abcxdxcba", "abc|x|x|cba");
  SPLIT("\\s+(?!\\S)|\\s+", "a   b  ", "  | |  ");
  SPLIT("(?i:'s|'t)", "IT'S it's It'T", "'S|'s|'T");
  SPLIT("(?i:k)", "K k \xE2\x84\xAA", "K|k|\xE2\x84\xAA"); /* Kelvin sign folds to k */
  SPLIT("a??b", "ab b", "ab|b");
  SPLIT("a{2}", "aaaaa", "aa|aa");
  SPLIT("a{2,}", "aaaaa a aa", "aaaaa|aa");
  SPLIT("x(?=y)", "xy xz", "x");
  SPLIT(".+", "ab\ncd", "ab|cd");
  SPLIT("\\x41|\\u00e9|\\x{1F600}", "A\xC3\xA9\xF0\x9F\x98\x80", "A|\xC3\xA9|\xF0\x9F\x98\x80");
  SPLIT("^a|b$", "aab", "a|b");
  SPLIT("ab|a", "aab", "a|ab"); /* leftmost-first: first alternative that matches wins */
  SPLIT("a|ab", "ab", "a");
  SPLIT("\\d+\\.\\d+", "pi 3.14 e 2.7", "3.14|2.7");
  SPLIT("[\\p{L}\\p{M}]+", "e\xCC\x81t\xC3\xA9", "e\xCC\x81t\xC3\xA9");

  /* the Llama 3 pretokenizer pattern */
  SPLIT(LLAMA3, "Hello world's 12345 end!!\n\n  x", "Hello| world|'s| |123|45| end|!!\n\n| | x");
  SPLIT(LLAMA3, "a  \n b", "a|  \n| b");
  SPLIT(LLAMA3, "  leading", " | leading");

  /* refusals and the budget */
  const char *bad[] = {"(a", "a)", "[abc", "a{3,1}", "\\p{Xx}", "(?<=a)b", "(a*)*", "a++", "\\1", "*a", ""};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    dp_regex *re = NULL;
    dp_status st = dp_regex_compile(bad[i], strlen(bad[i]), &re);
    CHECK(st != DP_OK && re == NULL, "pattern \"%s\" must be refused", bad[i]);
  }
  {
    dp_regex *re;
    const char *p = "(a|a)*(a|a)*(a|a)*b";
    CHECK(dp_regex_compile(p, strlen(p), &re) == DP_OK, "compile exponential pattern");
    uint32_t cps[40];
    for (int i = 0; i < 40; i++) cps[i] = 'a';
    int found; size_t a, b;
    dp_status st = dp_regex_find(re, cps, 40, 0, &found, &a, &b);
    CHECK(st == DP_ERR_UNSUPPORTED, "step budget stops a catastrophic pattern (%d)", st);
    dp_regex_free(re);
  }
  return dp_test_summary("test_tokenizer_regex");
}
