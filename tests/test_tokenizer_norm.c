/* test_tokenizer_norm.c -- Unicode normalization (src/tokenizer/unicode_norm.c) and the
 * tokenizer.json NFC/NFD/NFKC/NFKD normalizers.
 * * Unicode's own conformance file NormalizationTest.txt (Debian unicode-data ships it as
 *   /usr/share/unicode/NormalizationTest.txt.bz2; read through bzcat, or the plain .txt when
 *   present; skipped with a message when neither is there): every line of every part, all
 *   four forms, the quick check never claiming "normalized" for text that normalization
 *   changes; and every code point not listed in part 1 normalizes to itself in all forms.
 * * Hand cases: Hangul (de)composition, composition exclusions, singletons, blocked marks,
 *   canonical reordering, compatibility mappings, invalid UTF-8.
 * * A synthesized Qwen-style tokenizer.json (byte-level BPE with an NFC normalizer, alone and
 *   inside a Sequence): "e\u0301" and "\u00e9" encode to the same ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/alloc.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/utf8.h"
#include "testlib.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

static const char *const FORM[4] = {"NFC", "NFD", "NFKC", "NFKD"};

/* normalize s in `form`; returns a NUL-terminated malloc'd string (or NULL on error) */
static char *norm(const char *s, size_t n, dp_unorm_form form, size_t *out_len) {
  dp_buf b = {0};
  if (dp_unicode_normalize(s, n, form, &b)) { dp_buf_free(&b); return NULL; }
  if (!b.data) dp_buf_append(&b, "", 0);
  *out_len = b.len;
  return b.data;
}

/* "1E0A 0323" -> UTF-8 in out */
static size_t hex_to_utf8(const char *f, size_t flen, char *out) {
  size_t w = 0;
  for (size_t i = 0; i < flen;) {
    while (i < flen && f[i] == ' ') i++;
    if (i >= flen) break;
    char *end;
    unsigned long cp = strtoul(f + i, &end, 16);
    i = (size_t)(end - f);
    w += dp_utf8_encode((uint32_t)cp, out + w);
  }
  return w;
}

static int g_fail_lines;
static void expect(const char *s, size_t n, dp_unorm_form form, const char *want, size_t wn, const char *line) {
  size_t got_n = 0;
  char *got = norm(s, n, form, &got_n);
  int ok = got && got_n == wn && !memcmp(got, want, wn);
  /* the quick check must never say "already normalized" for text that changes */
  int qc_ok = !dp_unicode_is_normalized(s, n, form) || (n == wn && !memcmp(s, want, wn));
  if ((!ok || !qc_ok) && g_fail_lines++ < 10)
    fprintf(stderr, "  %s %s: line \"%s\"\n", FORM[form], !ok ? "differs" : "quick check wrong", line);
  CHECK(ok && qc_ok, "%s", FORM[form]);
  dp_free(got);
}

static void conformance(void) {
  const char *txt = "/usr/share/unicode/NormalizationTest.txt", *bz = "/usr/share/unicode/NormalizationTest.txt.bz2";
  FILE *f = fopen(txt, "r");
  int piped = 0;
  if (!f) {
    FILE *probe = fopen(bz, "r");
    if (probe) { fclose(probe); f = popen("bzcat /usr/share/unicode/NormalizationTest.txt.bz2 2>/dev/null", "r"); piped = 1; }
  }
  if (!f) { printf("SKIP NormalizationTest.txt: not found (apt-get install unicode-data)\n"); return; }
  static uint8_t in_part1[0x110000];
  memset(in_part1, 0, sizeof in_part1);
  char line[4096];
  int part = -1;
  size_t lines[4] = {0};
  int passes0 = dp_test_pass, fails0 = dp_test_fail;
  g_fail_lines = 0;
  /* count CHECKs per form without flooding: fold each line into one pass/fail */
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    if (line[0] == '@') { part = atoi(line + 5); continue; }
    line[strcspn(line, "#\n")] = 0;
    const char *fld[5]; size_t fl[5];
    const char *p = line;
    int k = 0;
    for (; k < 5; k++) {
      const char *semi = strchr(p, ';');
      if (!semi) break;
      fld[k] = p; fl[k] = (size_t)(semi - p);
      p = semi + 1;
    }
    if (k != 5) continue;
    char c[5][512]; size_t cn[5];
    for (int i = 0; i < 5; i++) cn[i] = hex_to_utf8(fld[i], fl[i], c[i]);
    if (part == 1) {
      uint32_t cp;
      if (dp_utf8_decode(c[0], cn[0], &cp) == cn[0]) in_part1[cp] = 1;
    }
    if (part >= 0 && part < 4) lines[part]++;
    /* NFC: c2 == toNFC(c1) == toNFC(c2) == toNFC(c3); c4 == toNFC(c4) == toNFC(c5) */
    for (int i = 0; i < 3; i++) expect(c[i], cn[i], DP_UNORM_NFC, c[1], cn[1], line);
    for (int i = 3; i < 5; i++) expect(c[i], cn[i], DP_UNORM_NFC, c[3], cn[3], line);
    /* NFD: c3 == toNFD(c1..c3); c5 == toNFD(c4..c5) */
    for (int i = 0; i < 3; i++) expect(c[i], cn[i], DP_UNORM_NFD, c[2], cn[2], line);
    for (int i = 3; i < 5; i++) expect(c[i], cn[i], DP_UNORM_NFD, c[4], cn[4], line);
    /* NFKC: c4 == toNFKC(c1..c5); NFKD: c5 == toNFKD(c1..c5) */
    for (int i = 0; i < 5; i++) expect(c[i], cn[i], DP_UNORM_NFKC, c[3], cn[3], line);
    for (int i = 0; i < 5; i++) expect(c[i], cn[i], DP_UNORM_NFKD, c[4], cn[4], line);
  }
  if (piped) pclose(f); else fclose(f);
  CHECK(lines[0] > 0 && lines[1] > 10000 && lines[2] > 0 && lines[3] > 0, "parts read: %zu %zu %zu %zu", lines[0],
        lines[1], lines[2], lines[3]);
  /* part 1 invariant: every other code point is unchanged by all four forms */
  size_t bad = 0;
  for (uint32_t cp = 0; cp < 0x110000; cp++) {
    if (in_part1[cp] || (cp >= 0xD800 && cp < 0xE000)) continue;
    char s[4];
    size_t n = dp_utf8_encode(cp, s);
    for (int form = 0; form < 4; form++) {
      size_t gn = 0;
      char *g = norm(s, n, (dp_unorm_form)form, &gn);
      if (!g || gn != n || memcmp(g, s, n)) {
        if (bad++ < 5) fprintf(stderr, "  U+%04X changes under %s\n", (unsigned)cp, FORM[form]);
      }
      dp_free(g);
    }
  }
  CHECK(bad == 0, "%zu code points outside part 1 are not invariant", bad);
  printf("NormalizationTest.txt: part0 %zu, part1 %zu, part2 %zu, part3 %zu lines; %d checks passed, %d failed\n", lines[0],
         lines[1], lines[2], lines[3], dp_test_pass - passes0, dp_test_fail - fails0);
}

typedef struct { const char *in; dp_unorm_form form; const char *want; } hand_case;
static void hand(void) {
  static const hand_case H[] = {
    {"e\xcc\x81", DP_UNORM_NFC, "\xc3\xa9"},                        /* e + U+0301 -> é */
    {"\xc3\xa9", DP_UNORM_NFD, "e\xcc\x81"},
    {"\xea\xb0\x80", DP_UNORM_NFD, "\xe1\x84\x80\xe1\x85\xa1"},         /* 가 -> L V */
    {"\xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8", DP_UNORM_NFC, "\xea\xb0\x81"}, /* L V T -> 각 */
    {"\xea\xb0\x80\xe1\x86\xa8", DP_UNORM_NFC, "\xea\xb0\x81"},        /* LV + T -> LVT */
    {"\xea\xb0\x81\xe1\x86\xa8", DP_UNORM_NFC, "\xea\xb0\x81\xe1\x86\xa8"}, /* LVT + T: no */
    {"\xe0\xa5\x98", DP_UNORM_NFC, "\xe0\xa4\x95\xe0\xa4\xbc"},         /* U+0958 excluded: stays decomposed */
    {"\xe2\x84\xab", DP_UNORM_NFC, "\xc3\x85"},                        /* U+212B ANGSTROM (singleton) -> U+00C5 */
    {"\xcd\xb4", DP_UNORM_NFC, "\xca\xb9"},                            /* U+0374 -> U+02B9 */
    {"a\xcc\x81\xcc\xa3", DP_UNORM_NFC, "\xe1\xba\xa1\xcc\x81"},       /* a acute dot-below -> ạ + acute (reorder) */
    {"a\xcc\xa3\xcc\x81", DP_UNORM_NFD, "a\xcc\xa3\xcc\x81"},
    {"a\xcc\x81\xcc\xa3", DP_UNORM_NFD, "a\xcc\xa3\xcc\x81"},
    {"a\xcc\x81\xcc\x81", DP_UNORM_NFC, "\xc3\xa1\xcc\x81"},           /* first acute composes, the second has no pair */
    {"\xcc\x81" "e", DP_UNORM_NFC, "\xcc\x81" "e"},                    /* leading mark stays */
    {"\xef\xac\x81", DP_UNORM_NFKC, "fi"},                             /* U+FB01 ligature */
    {"\xef\xac\x81", DP_UNORM_NFC, "\xef\xac\x81"},
    {"\xe2\x91\xa0", DP_UNORM_NFKC, "1"},                              /* circled 1 */
    {"\xef\xbc\xa1\xef\xbc\xa2", DP_UNORM_NFKC, "AB"},                 /* full-width */
    {"\xe1\xba\x9b\xcc\xa3", DP_UNORM_NFC, "\xe1\xba\x9b\xcc\xa3"},    /* UAX 15 example: ẛ̣ */
    {"\xe1\xba\x9b\xcc\xa3", DP_UNORM_NFKC, "\xe1\xb9\xa9"},           /* -> ṩ */
    {"\xe1\xba\x9b\xcc\xa3", DP_UNORM_NFKD, "s\xcc\xa3\xcc\x87"},
    {"\xef\xb7\xba", DP_UNORM_NFKD, "\xd8\xb5\xd9\x84\xd9\x89 \xd8\xa7\xd9\x84\xd9\x84\xd9\x87 \xd8\xb9\xd9\x84\xd9\x8a\xd9\x87 \xd9\x88\xd8\xb3\xd9\x84\xd9\x85"},
    {"\xf0\x9d\x85\x9e", DP_UNORM_NFC, "\xf0\x9d\x85\x97\xf0\x9d\x85\xa5"}, /* U+1D15E excluded (post-composition) */
    {"plain ASCII text", DP_UNORM_NFC, "plain ASCII text"},
    {"", DP_UNORM_NFC, ""},
  };
  for (size_t i = 0; i < sizeof H / sizeof *H; i++) {
    size_t gn = 0;
    char *g = norm(H[i].in, strlen(H[i].in), H[i].form, &gn);
    CHECK(g && gn == strlen(H[i].want) && !memcmp(g, H[i].want, gn), "hand case %zu (%s)", i, FORM[H[i].form]);
    dp_free(g);
  }
  CHECK(dp_unicode_is_normalized("hello", 5, DP_UNORM_NFC), "ASCII is NFC");
  CHECK(dp_unicode_is_normalized("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87", 12, DP_UNORM_NFC), "composed Latin + CJK is NFC");
  CHECK(!dp_unicode_is_normalized("cafe\xcc\x81", 6, DP_UNORM_NFC), "e + combining acute needs work");
  CHECK(!dp_unicode_is_normalized("\xc3\xa9", 2, DP_UNORM_NFD), "é is not NFD");
  CHECK(dp_unicode_ccc(0x301) == 230 && dp_unicode_ccc(0x323) == 220 && dp_unicode_ccc('a') == 0, "ccc");
  dp_buf b = {0};
  CHECK(dp_unicode_normalize("a\xff", 2, DP_UNORM_NFC, &b) == DP_ERR_INVALID_ARG, "invalid UTF-8 refused");
  dp_buf_free(&b);
}

/* ---- synthesized Qwen-style tokenizer.json ---- */
static uint32_t byte_char(int b) { /* GPT-2 byte -> char map */
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return (uint32_t)b;
  int n = 0;
  for (int x = 0; x < b; x++)
    if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
  return 256u + (uint32_t)n;
}
static void bl(dp_buf *o, const char *utf8) { /* byte-level spelling of utf8, JSON-escaped */
  for (const char *p = utf8; *p; p++) {
    uint32_t c = byte_char((uint8_t)*p);
    if (c == '"' || c == '\\') dp_buf_printf(o, "\\%c", (char)c);
    else { char u[4]; dp_buf_append(o, u, dp_utf8_encode(c, u)); }
  }
}
static char *qwen_like(const char *normalizer) {
  dp_buf o = {0};
  dp_buf_printf(&o, "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":260,\"content\":\"<|endoftext|>\",\"single_word\":false,"
                    "\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true}],\"normalizer\":%s,"
                    "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Split\",\"pattern\":{\"Regex\":"
                    "\"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\\\r\\\\n\\\\p{L}\\\\p{N}]?\\\\p{L}+|\\\\p{N}| ?[^\\\\s\\\\p{L}\\\\p{N}]+[\\\\r\\\\n]*|\\\\s*[\\\\r\\\\n]+|\\\\s+(?!\\\\S)|\\\\s+\"},"
                    "\"behavior\":\"Isolated\",\"invert\":false},{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                    "\"trim_offsets\":false,\"use_regex\":false}]},\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                    "\"trim_offsets\":false,\"use_regex\":false},\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                    "\"trim_offsets\":false,\"use_regex\":false},\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
                    "\"continuing_subword_prefix\":\"\",\"end_of_word_suffix\":\"\",\"fuse_unk\":false,\"byte_fallback\":false,"
                    "\"ignore_merges\":false,\"vocab\":{", normalizer);
  for (int b = 0; b < 256; b++) {
    char s[2] = {(char)b, 0};
    dp_buf_puts(&o, "\"");
    if (b == 0) { char u[4]; dp_buf_append(&o, u, dp_utf8_encode(byte_char(0), u)); } else bl(&o, s);
    dp_buf_printf(&o, "\":%d,", b);
  }
  /* 256: é (C3 A9), 257: caf, 258: café, 259: ca */
  dp_buf_puts(&o, "\""); bl(&o, "\xc3\xa9"); dp_buf_puts(&o, "\":256,\"ca\":259,\"caf\":257,\"");
  bl(&o, "caf\xc3\xa9"); dp_buf_puts(&o, "\":258},\"merges\":[\"");
  bl(&o, "\xc3"); dp_buf_puts(&o, " "); bl(&o, "\xa9");
  dp_buf_puts(&o, "\",\"c a\",\"ca f\",\"caf "); bl(&o, "\xc3\xa9"); dp_buf_puts(&o, "\"]}}");
  return o.data;
}

static void qwen_tokenizer(void) {
  static const char *const NORMS[] = {"{\"type\":\"NFC\"}", "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFC\"}]}",
                                      "{\"type\":\"NFKC\"}", "null"};
  for (int k = 0; k < 4; k++) {
    char *js = qwen_like(NORMS[k]);
    dp_tokenizer *t = NULL;
    dp_status st = dp_tokenizer_load_json_text(js, strlen(js), NULL, 0, &t);
    CHECK(st == DP_OK, "qwen-like (%s): load: %s", NORMS[k], dp_error_message());
    dp_free(js);
    if (!t) continue;
    dp_token_list a = {0}, b = {0};
    CHECK(dp_tokenizer_encode(t, "cafe\xcc\x81", 6, 0, &a) == DP_OK, "encode decomposed");
    CHECK(dp_tokenizer_encode(t, "caf\xc3\xa9", 5, 0, &b) == DP_OK, "encode composed");
    CHECK(b.n == 1 && b.ids[0] == 258, "café -> [258] (got %zu ids)", b.n);
    int same = a.n == b.n && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids);
    if (k < 3) CHECK(same, "%s: e+U+0301 encodes as U+00E9 (%zu vs %zu ids)", NORMS[k], a.n, b.n);
    else CHECK(!same && a.n == 4, "no normalizer: e+U+0301 stays decomposed (%zu ids)", a.n);
    a.n = 0;
    /* the normalizer also runs between special tokens; the special token itself is untouched */
    CHECK(dp_tokenizer_encode(t, "e\xcc\x81<|endoftext|>e\xcc\x81", 19, DP_TOK_PARSE_SPECIAL, &a) == DP_OK, "encode special");
    if (k < 3) CHECK(a.n == 3 && a.ids[0] == 256 && a.ids[1] == 260 && a.ids[2] == 256, "é <|endoftext|> é");
    dp_buf d = {0};
    CHECK(dp_tokenizer_decode(t, b.ids, b.n, 0, &d) == DP_OK && d.len == 5 && !memcmp(d.data, "caf\xc3\xa9", 5), "decode");
    dp_buf_free(&d);
    a.n = 0;
    CHECK(dp_tokenizer_encode(t, "\xef\xac\x81", 3, 0, &a) == DP_OK, "encode ligature");
    if (k == 2) CHECK(a.n == 2 && a.ids[0] == 'f' && a.ids[1] == 'i', "NFKC: U+FB01 -> f i");
    if (k == 0) CHECK(a.n == 3, "NFC: U+FB01 stays (3 bytes)");
    dp_token_list_free(&a); dp_token_list_free(&b);
    dp_tokenizer_free(t);
  }
  char *js = qwen_like("{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"\"}");
  dp_tokenizer *t = NULL;
  CHECK(dp_tokenizer_load_json_text(js, strlen(js), NULL, 0, &t) == DP_ERR_UNSUPPORTED && !t, "unknown normalizer refused");
  dp_free(js);
}

int main(void) {
  hand();
  qwen_tokenizer();
  conformance();
  return dp_test_summary("test_tokenizer_norm");
}
