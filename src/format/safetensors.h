/* safetensors.h -- reader (and the header writer) for one .safetensors file: 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
 * then the data. Every entry is validated (dtype known, shape product * element size ==
 * end - begin without overflow, range inside the file, names unique and valid UTF-8). */
#ifndef DP_FORMAT_SAFETENSORS_H
#define DP_FORMAT_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/file.h"
#include "doppler_status.h"

#define DP_ST_MAX_DIMS 4

typedef struct dp_st_tensor {
  char *name;
  dp_dtype dtype;
  int n_dims;
  uint64_t shape[DP_ST_MAX_DIMS]; /* PyTorch order, shape[0] outermost */
  uint64_t offset;                /* absolute byte offset in the file */
  uint64_t nbytes;
} dp_st_tensor;

typedef struct dp_safetensors {
  char *path;
  dp_mapped map;    /* whole file (mmap natively) */
  size_t n;
  dp_st_tensor *t;  /* [n], file order of the header */
} dp_safetensors;

/* Parse an in-memory image (used by the fuzzer too). `what` names it in errors. On success
 * st->t is filled; st->map is left untouched. */
dp_status dp_safetensors_parse(const uint8_t *data, uint64_t size, const char *what, dp_safetensors *st);
dp_status dp_safetensors_open(const char *path, dp_safetensors **out);
void dp_safetensors_free(dp_safetensors *st); /* NULL-safe; unmaps if mapped */
const dp_st_tensor *dp_safetensors_find(const dp_safetensors *st, const char *name);

/* Writer side: the bytes that open a safetensors file whose tensors follow back to back in the
 * order given -- the 8-byte little-endian header length, then the JSON header (with
 * "__metadata__": {"format": "pt"} when pt_metadata, as torch writes it) padded with spaces to
 * a multiple of 8. Appended to out; DP_ERR_NOMEM if it failed. dtype: F32, F16, BF16, I32, ... */
typedef struct dp_st_entry { const char *name; dp_dtype dtype; int n_dims; const uint64_t *shape; uint64_t nbytes; } dp_st_entry;
struct dp_buf;
dp_status dp_safetensors_header(const dp_st_entry *e, size_t n, int pt_metadata, struct dp_buf *out);
#endif
