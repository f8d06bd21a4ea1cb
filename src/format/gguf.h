/* gguf.h -- GGUF v2/v3 reader (llama.cpp's single-file format) and the writer used by the
 * converter. The reader validates everything it is given (counts against the bytes left,
 * dimension products, tensor ranges, alignment, duplicate keys/names, UTF-8 of keys and
 * names) and never allocates in proportion to an unchecked count.
 *
 * Metadata values point into the mapped file. For the tokenizer: tokenizer.ggml.tokens and
 * .merges are string arrays (dp_gguf_arr_str), .token_type an i32 array (dp_gguf_arr_int),
 * .bos_token_id/.eos_token_id u32, .add_bos_token bool, .model/.pre strings. */
#ifndef DP_FORMAT_GGUF_H
#define DP_FORMAT_GGUF_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/file.h"
#include "doppler_status.h"

enum {
  DP_GGUF_U8 = 0, DP_GGUF_I8, DP_GGUF_U16, DP_GGUF_I16, DP_GGUF_U32, DP_GGUF_I32, DP_GGUF_F32, DP_GGUF_BOOL,
  DP_GGUF_STRING, DP_GGUF_ARRAY, DP_GGUF_U64, DP_GGUF_I64, DP_GGUF_F64, DP_GGUF_TYPE_COUNT
};
/* ggml tensor type ids used here */
enum { DP_GGML_F32 = 0, DP_GGML_F16 = 1, DP_GGML_Q8_0 = 8, DP_GGML_Q4_K = 12, DP_GGML_Q6_K = 14, DP_GGML_BF16 = 30, DP_GGML_MXFP4 = 39 };

typedef struct dp_gguf_kv {
  char *key;                 /* NUL-terminated copy */
  uint32_t type;             /* DP_GGUF_* */
  uint32_t arr_type;         /* ARRAY: element type */
  uint64_t n;                /* ARRAY: element count; STRING: byte length */
  const uint8_t *data;       /* STRING: the bytes; ARRAY: first element; scalars: the value */
  const uint8_t **strs;      /* ARRAY of STRING: element i starts at strs[i] (u64 length, bytes) */
} dp_gguf_kv;

typedef struct dp_gguf_tensor {
  char *name;
  uint32_t ggml_type;
  dp_dtype dtype;
  int n_dims;
  uint64_t ne[4];            /* ggml order: ne[0] innermost (row length) */
  uint64_t offset;           /* absolute byte offset in the file */
  uint64_t nbytes;
} dp_gguf_tensor;

typedef struct dp_gguf {
  char *path;
  dp_mapped map;             /* when opened from a file */
  const uint8_t *data;
  uint64_t size;
  uint32_t version, alignment;
  uint64_t data_offset;
  size_t n_kv, n_tensors;
  dp_gguf_kv *kv;
  dp_gguf_tensor *t;
} dp_gguf;

dp_status dp_gguf_parse(const uint8_t *data, uint64_t size, const char *what, dp_gguf **out); /* data not owned */
dp_status dp_gguf_open(const char *path, dp_gguf **out);
void dp_gguf_free(dp_gguf *g);
const char *dp_ggml_type_name(uint32_t ggml_type); /* "Q4_0", ... or "TYPE_<n>" (static) */

const dp_gguf_kv *dp_gguf_find(const dp_gguf *g, const char *key);
const dp_gguf_tensor *dp_gguf_find_tensor(const dp_gguf *g, const char *name);
/* Scalar accessors: numbers of any integer/float/bool type convert; else dflt. */
int64_t dp_gguf_get_int(const dp_gguf *g, const char *key, int64_t dflt);
double dp_gguf_get_num(const dp_gguf *g, const char *key, double dflt);
/* String value (not NUL-terminated; *len set), or NULL. dp_gguf_get_strz copies into buf. */
const char *dp_gguf_get_str(const dp_gguf *g, const char *key, size_t *len);
const char *dp_gguf_get_strz(const dp_gguf *g, const char *key, char *buf, size_t cap, const char *dflt);
/* Array element accessors (no bounds beyond i < kv->n are needed: all were checked). */
const char *dp_gguf_arr_str(const dp_gguf_kv *kv, uint64_t i, size_t *len);
int64_t dp_gguf_arr_int(const dp_gguf_kv *kv, uint64_t i);
double dp_gguf_arr_num(const dp_gguf_kv *kv, uint64_t i);
#endif
