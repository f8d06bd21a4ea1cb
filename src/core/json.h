/* json.h -- a small JSON reader (RFC 8259) building an immutable tree in one arena.
 * Fast enough for a 33 MB tokenizer.json (one pass, no per-node malloc). Strings are decoded
 * (escapes, surrogate pairs -> UTF-8) and NUL-terminated; they may contain NUL bytes, so use
 * .len. Object members keep file order; dp_json_get is a linear scan (build your own hash map
 * for big objects such as a vocabulary). Writing JSON uses dp_buf (buf.h). */
#ifndef DP_CORE_JSON_H
#define DP_CORE_JSON_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"

typedef enum { DP_JSON_NULL, DP_JSON_BOOL, DP_JSON_NUMBER, DP_JSON_STRING, DP_JSON_ARRAY, DP_JSON_OBJECT } dp_json_type;

typedef struct dp_json dp_json;
struct dp_json {
  dp_json_type type;
  uint32_t n;          /* ARRAY/OBJECT: number of children; STRING: length in bytes */
  union {
    int boolean;
    double number;
    const char *str;   /* STRING */
    dp_json *items;    /* ARRAY: n items; OBJECT: n values */
  } u;
  const char **keys;   /* OBJECT: n keys (NUL-terminated) */
  uint32_t *key_lens;  /* OBJECT: their lengths */
};

typedef struct dp_json_doc dp_json_doc; /* owns the arena */

/* Parse text[0..len). `what` names the source in errors ("config.json"), which report the
 * byte offset: "config.json: byte 123: expected ':'". Returns NULL on failure. */
dp_json_doc *dp_json_parse(const char *text, size_t len, const char *what);
dp_json_doc *dp_json_parse_file(const char *path);
const dp_json *dp_json_root(const dp_json_doc *d);
void dp_json_free(dp_json_doc *d);

/* Lookups: NULL-safe (a NULL or mistyped node gives NULL / the default). */
const dp_json *dp_json_get(const dp_json *obj, const char *key);
const dp_json *dp_json_at(const dp_json *arr, size_t i);
size_t dp_json_len(const dp_json *arr_or_obj);
int dp_json_is(const dp_json *v, dp_json_type t);
double dp_json_num(const dp_json *v, double dflt);
int64_t dp_json_int(const dp_json *v, int64_t dflt);
int dp_json_bool(const dp_json *v, int dflt);
const char *dp_json_str(const dp_json *v, const char *dflt);
/* Convenience: dp_json_num(dp_json_get(obj, key), dflt) etc. */
double dp_json_get_num(const dp_json *obj, const char *key, double dflt);
int64_t dp_json_get_int(const dp_json *obj, const char *key, int64_t dflt);
int dp_json_get_bool(const dp_json *obj, const char *key, int dflt);
const char *dp_json_get_str(const dp_json *obj, const char *key, const char *dflt);
#endif
