/* tok_internal.h -- the tokenizer object shared by tokenizer.c (tokenizer.json loading,
 * encoding), tok_decode.c (decoding, streaming), tok_vocab.c (GGUF-style arrays) and
 * chat_template.c. Not a public header. */
#ifndef DP_TOKENIZER_TOK_INTERNAL_H
#define DP_TOKENIZER_TOK_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "tokenizer/tokenizer.h"
#include "tokenizer/regex.h"

/* Normalizer / pre-tokenizer / decoder steps, applied in order. */
enum { NORM_REPLACE, NORM_PREPEND, NORM_STRIP, NORM_UNICODE };
typedef struct {
  int kind; char *a; size_t alen; char *b; size_t blen; int left, right;
  int form; /* NORM_UNICODE: dp_unorm_form (NFC, NFD, NFKC, NFKD) */
} tok_norm;

enum { SPLIT_REMOVED, SPLIT_ISOLATED, SPLIT_MERGED_PREV, SPLIT_MERGED_NEXT, SPLIT_CONTIGUOUS };
enum { PRE_SPLIT_REGEX, PRE_SPLIT_STRING, PRE_BYTELEVEL, PRE_METASPACE };
typedef struct {
  int kind;
  dp_regex *re;          /* SPLIT_REGEX; BYTELEVEL with use_regex (GPT-2 pattern) */
  char *str; size_t slen; /* SPLIT_STRING pattern; METASPACE replacement */
  int behavior, invert;
  int add_prefix_space;  /* BYTELEVEL */
  int prepend;           /* METASPACE: 0 never, 1 first, 2 always */
  int split;             /* METASPACE */
} tok_pre;

enum { DEC_BYTELEVEL, DEC_REPLACE, DEC_BYTEFALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE };
typedef struct { int kind; char *a; size_t alen; char *b; size_t blen; int start, stop, prepend; } tok_dec;

/* Added tokens, matched on the raw text before anything else (normalized == false) or on
 * each normalized segment (normalized == true). */
typedef struct {
  int32_t id;
  uint32_t off, len;    /* content in the string arena */
  uint8_t special, lstrip, rstrip, single_word, normalized;
} tok_added;

/* Byte trie over added-token contents. node 0 is the root. */
typedef struct { int32_t child, sibling; int32_t added; uint8_t byte; } trie_node;
typedef struct { trie_node *nodes; size_t n, cap; uint8_t first[256]; } tok_trie;

/* BPE word cache: piece bytes -> ids. */
typedef struct { uint64_t *hash; uint32_t *key_off, *key_len, *ids_off, *ids_cnt; size_t cap, used;
                 char *keys; size_t keys_len, keys_cap; int32_t *ids; size_t ids_len, ids_cap; } tok_cache;

struct dp_tokenizer {
  /* vocabulary: id -> string (arena offsets), string -> id (open addressing, slot = id + 1) */
  size_t n_vocab;                  /* max id + 1 */
  uint32_t *tok_off, *tok_len;     /* [n_vocab]; tok_len UINT32_MAX = hole */
  char *arena; size_t arena_len, arena_cap;
  uint32_t *map, *map_tag; size_t map_cap; /* [map_cap] (power of two): id + 1, hash >> 32 */
  uint8_t *special;                /* [n_vocab] 1 = special added token */
  uint8_t *is_added;               /* [n_vocab] 1 = added token */

  /* merges: (left, right) -> rank, new id */
  uint64_t *mkey; uint32_t *mrank, *mnew; size_t mcap, n_merges;

  int byte_level;                  /* ByteLevel pretokenizer present: pieces are byte-mapped */
  int byte_fallback, fuse_unk, ignore_merges;
  int32_t unk_id;
  int32_t byte_tok[256];           /* id of "<0xNN>", -1 if absent */
  int32_t char_id[256];            /* byte-level: id of the mapped char of each byte, -1 absent */

  tok_norm *norm; size_t n_norm;
  tok_pre *pre; size_t n_pre;
  tok_dec *dec; size_t n_dec;
  int has_decoder;

  tok_added *added; size_t n_added;
  tok_trie trie_raw, trie_norm;

  int32_t prefix[4]; size_t n_prefix; /* post-processor ids before / after a single sequence */
  int32_t suffix[4]; size_t n_suffix;
  int32_t bos, eos;
  int add_bos, add_eos;
  int32_t eog[16]; size_t n_eog;
  char *chat_template;

  /* SentencePiece style (not byte-level): a pre-token may be the whole text. It can still be cut
   * before each U+2581 whose preceding char X never appears as "X\u2581" inside a token, since
   * no merge can then cross that point (exact, and keeps BPE words short and cacheable). */
  int mark_split;                  /* 1: cut as above */
  uint32_t mark_glue[64]; size_t n_mark_glue; /* the X code points */
  tok_cache cache;
  /* scratch reused by encode */
  uint32_t *cps; size_t *cp_offs; size_t cps_cap; /* [cps_cap] code points and their byte offsets */
};

/* shared helpers (tokenizer.c) */
uint64_t dp_tok_hash(const char *s, size_t n);
int32_t dp_tok_lookup(const dp_tokenizer *t, const char *s, size_t n);
dp_status dp_tok_set_token(dp_tokenizer *t, int32_t id, const char *s, size_t n);
dp_status dp_tok_add_merge(dp_tokenizer *t, int32_t a, int32_t b, uint32_t rank, int32_t merged);
dp_status dp_tok_index(dp_tokenizer *t);  /* build string -> id index (after all strings) */
dp_status dp_tok_finish(dp_tokenizer *t); /* byte tables, trie, eog list (after the index) */
dp_status dp_tok_add_added(dp_tokenizer *t, int32_t id, const char *s, size_t n, int special,
                           int lstrip, int rstrip, int single_word, int normalized);
dp_tokenizer *dp_tok_alloc(void);
/* GPT-2 byte <-> unicode char map. */
uint32_t dp_tok_byte_to_cp(uint8_t b);
int dp_tok_cp_to_byte(uint32_t cp); /* -1 if cp is not one of the 256 */
extern const char DP_TOK_GPT2_PATTERN[];
extern const char DP_TOK_LLAMA3_PATTERN[];
extern const char DP_TOK_O200K_PATTERN[];
extern const char DP_TOK_QWEN2_PATTERN[];
#endif
