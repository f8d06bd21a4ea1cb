/* gpu_common.c -- the part of the device layer (gpu.h) that does not depend on how WebGPU is
 * reached, once for both backends (gpu_common.h): the kernel cache, bind groups made per
 * dp_gpu_dispatch or once per uniform slot of a dp_gpu_bound (the binding checks, placeholders
 * for bindings a dispatch leaves out), the host side of the uniform arena (parameters packed
 * at the device's uniform offset alignment, zero-padded to 16 bytes; the backend uploads the
 * arena with one queue write per submit, so it is reused at once) and of each bound's uniform
 * slots, dispatch checks, counters, the 2-D grid split, the blocking read (start + wait + finish), and buffers and textures: their arguments
 * checked here, the objects made by the backend.
 * Linked with src/gpu/dawn.c natively and src/gpu/web.c in the browser build; calls their
 * gpu_backend_* functions and the public dp_gpu_* ones. Depends on core (alloc, error). */
#include "gpu/gpu_common.h"
#include "core/alloc.h"
#include "core/error.h"
#include <stdio.h>
#include <string.h>

static void bounds_upload(dp_gpu *g); /* below, with dp_gpu_bound */
static void bounds_forget(gpu_common *c);

dp_status gpu_common_init(dp_gpu *g) {
  gpu_common *c = GPU_C(g);
  c->uniform_align = c->info.min_uniform_offset_align ? c->info.min_uniform_offset_align : 256;
  c->uniform_host = dp_malloc(GPU_UNIFORM_ARENA_BYTES);
  return c->uniform_host ? DP_OK : dp_error(DP_ERR_NOMEM, "cannot allocate the uniform arena");
}

void gpu_common_free(dp_gpu *g) {
  gpu_common *c = GPU_C(g);
  for (size_t i = 0; i < c->n_kernels; i++) {
    gpu_backend_kernel_free(c->kernels[i]);
    dp_free(c->kernels[i]->key);
    dp_free(c->kernels[i]);
  }
  dp_free(c->kernels);
  bounds_forget(c);
  dp_gpu_buffer_free(c->hold_ro);
  dp_gpu_buffer_free(c->hold_rw);
  dp_gpu_texture_free(c->hold_tex);
  dp_free(c->uniform_host);
  c->kernels = NULL, c->n_kernels = 0, c->hold_ro = c->hold_rw = NULL, c->hold_tex = NULL, c->uniform_host = NULL;
}


uint32_t gpu_common_take_uniforms(dp_gpu *g) {
  uint32_t used = GPU_C(g)->uniform_used;
  GPU_C(g)->uniform_used = 0;
  bounds_upload(g);
  return used;
}

const dp_gpu_info *dp_gpu_get_info(const dp_gpu *g) { return &((const gpu_common *)g)->info; }

/* ---- kernels: cached by name, entry, source pointer and constants ---- */

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
  return h;
}

dp_status dp_gpu_kernel_get(dp_gpu *g, const char *name, const char *source, const char *entry,
                            const dp_gpu_constant *cs, size_t nc, dp_gpu_kernel **out) {
  gpu_common *c = GPU_C(g);
  *out = NULL;
  if (!source) return dp_error(DP_ERR_NOT_FOUND, "kernel '%s': no WGSL source", name);
  char key[1024];
  int kl = snprintf(key, sizeof key, "%s|%s|%p", name, entry, (const void *)source);
  for (size_t i = 0; i < nc && kl < (int)sizeof key; i++)
    kl += snprintf(key + kl, sizeof key - (size_t)kl, "|%s=%.17g", cs[i].name, cs[i].value);
  if (kl >= (int)sizeof key) return dp_error(DP_ERR_INVALID_ARG, "kernel '%s': too many constants", name);
  uint64_t h = fnv1a(key, (size_t)kl);
  for (size_t i = 0; i < c->n_kernels; i++)
    if (c->kernels[i]->hash == h && !strcmp(c->kernels[i]->key, key)) { *out = c->kernels[i]; return DP_OK; }

  if (c->n_kernels == c->cap_kernels) {
    size_t cap = c->cap_kernels ? c->cap_kernels * 2 : 32;
    dp_gpu_kernel **a = dp_realloc(c->kernels, cap * sizeof *a);
    if (!a) return DP_ERR_NOMEM;
    c->kernels = a, c->cap_kernels = cap;
  }
  dp_gpu_kernel *k = dp_calloc(1, sizeof *k);
  if (!k || !(k->key = dp_strndup(key, (size_t)kl))) {
    dp_free(k);
    return DP_ERR_NOMEM;
  }
  k->hash = h;
  snprintf(k->label, sizeof k->label, "%s:%s", name, entry);
  dp_status st = dp_wgsl_layout(source, k->kinds, &k->n_kinds);
  if (st) st = dp_error_wrap(DP_ERR_INVALID_ARG, "kernel '%s' (entry %s): bind-group layout", name, entry);
  if (!st) st = gpu_backend_kernel_create(g, k, name, source, entry, cs, nc);
  if (st) {
    dp_free(k->key);
    dp_free(k);
    return st;
  }
  c->kernels[c->n_kernels++] = k;
  *out = k;
  return DP_OK;
}

uint64_t dp_gpu_kernel_count(const dp_gpu *g) { return ((const gpu_common *)g)->n_kernels; }

/* ---- dispatches: bind groups (made per call, or per uniform slot of a dp_gpu_bound) ----
 * Uniform offsets are static, never dynamic: with a dynamic offset lavapipe copies the whole
 * descriptor set into a newly mapped memory object at every bind (an mmap + munmap per
 * dispatch, ~20% of doppler-tiny's decode there; notes/performance.md, issue 12 item 5).
 * dp_gpu_dispatch binds the arena at its parameters' offset. A dp_gpu_bound owns a uniform
 * buffer of slots with one bind group made per slot: its n-th dispatch within a submit uses
 * slot n; when a submit needs more, the slots double (up to BOUND_MAX_SLOTS; the slots used so
 * far are written to the old buffer at once, their dispatches keep it), past that the
 * recording is submitted first. The slots used are written at submit, one queue write per
 * bound (gpu_common_take_uniforms). */

#define BOUND_MAX_SLOTS 64

struct dp_gpu_bound {
  dp_gpu *g;
  dp_gpu_kernel *k;
  dp_gpu_binding bind[DP_WGSL_MAX_BINDINGS]; /* the storage bindings, for the bind groups of new slots */
  size_t nb, params_size;
  uint32_t usize;        /* uniform binding size: params_size rounded up to 16 */
  uint32_t stride;       /* bytes per slot: usize rounded up to the uniform offset alignment */
  gpu_handle ubuf;       /* nslots slots (the backend's uniform buffer) */
  uint8_t *host;         /* the slots' bytes, written to ubuf at submit */
  gpu_handle *bgs;       /* bgs[i]: slot i and the storage bindings */
  uint32_t nslots, used; /* slots used by dispatches recorded since submit number gen */
  uint64_t gen;
  size_t dirty;          /* 1 + its index in c->dirty; 0 when not there */
};

static uint32_t uniform_size(size_t params_size) { return (uint32_t)((params_size + 15) & ~(size_t)15) + (params_size ? 0 : 16); }

/* The placeholder bound where a dispatch leaves out binding kind `kind`. */
static dp_status placeholder(dp_gpu *g, int kind, dp_gpu_binding *e) {
  gpu_common *c = GPU_C(g);
  dp_status st = DP_OK;
  if (kind == DP_WGSL_TEXTURE_U32) {
    if (!c->hold_tex) st = dp_gpu_texture_create(g, 1, 1, "placeholder", &c->hold_tex);
    if (!st) e->tex = c->hold_tex;
    return st;
  }
  dp_gpu_buffer **b = kind == DP_WGSL_STORAGE_RW ? &c->hold_rw : &c->hold_ro;
  if (!*b) st = dp_gpu_buffer_create(g, 256, "placeholder", b);
  if (!st) e->buf = *b, e->offset = 0, e->size = 256;
  return st;
}

/* One bind group of k over bindings (binding i + 1 = bindings[i]), binding 0 the `usize`
 * bytes at `uoff` of uniform buffer ubuf (0: the arena). Counted. */
static dp_status make_bind_group(dp_gpu *g, dp_gpu_kernel *k, gpu_handle ubuf, uint32_t uoff, uint32_t usize,
                                 const dp_gpu_binding *bindings, size_t nb, gpu_handle *out) {
  gpu_common *c = GPU_C(g);
  *out = 0;
  size_t declared = k->n_kinds ? k->n_kinds - 1 : 0;
  if (nb > declared)
    return dp_error(DP_ERR_INVALID_ARG, "dispatch of %s with %zu storage bindings: its module declares %zu", k->label, nb, declared);
  if (usize > 65536) return dp_error(DP_ERR_INVALID_ARG, "kernel parameters of %u bytes (max 64 KiB)", usize);
  dp_gpu_binding res[DP_WGSL_MAX_BINDINGS]; /* by binding number; [0] is the arena's */
  memset(res, 0, sizeof res);
  for (size_t i = 1; i < k->n_kinds; i++) {
    int kind = k->kinds[i];
    if (!kind) continue;
    if (i - 1 >= nb) { /* left out: the entry point does not use it */
      dp_status st = placeholder(g, kind, &res[i]);
      if (st) return st;
      continue;
    }
    const dp_gpu_binding *b = &bindings[i - 1];
    if ((kind == DP_WGSL_TEXTURE_U32) != (b->tex != NULL))
      return dp_error(DP_ERR_INVALID_ARG, "dispatch of %s: binding %zu is a %s in the module", k->label, i,
                      kind == DP_WGSL_TEXTURE_U32 ? "texture" : "buffer");
    if (b->tex) {
      res[i].tex = b->tex;
      continue;
    }
    if (!b->buf) return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu has no buffer", i);
    uint64_t bytes = b->buf->size;
    uint64_t size = b->size ? b->size : bytes - b->offset;
    if (b->offset + size > bytes)
      return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu [%llu, +%llu) past the end of its %llu-byte buffer", i,
                      (unsigned long long)b->offset, (unsigned long long)size, (unsigned long long)bytes);
    if (size > c->info.max_storage_binding) /* never clamped: a kernel would read past it unseen */
      return dp_error(DP_ERR_INVALID_ARG, "dispatch: binding %zu of %llu bytes exceeds the storage binding limit %llu", i,
                      (unsigned long long)size, (unsigned long long)c->info.max_storage_binding);
    res[i].buf = b->buf, res[i].offset = b->offset, res[i].size = size;
  }
  dp_status st = gpu_backend_bind_group(g, k, ubuf, uoff, usize, res, out);
  if (!st && !*out) st = dp_error(DP_ERR_GPU, "dispatch of %s: bind group creation failed", k->label);
  if (st) return st;
  c->n_bind_groups++;
  return DP_OK;
}

/* Checks before a dispatch is recorded. */
static dp_status dispatch_checks(dp_gpu *g, uint32_t gx, uint32_t gy, uint32_t gz) {
  gpu_common *c = GPU_C(g);
  if (c->lost) return gpu_backend_error(g);
  uint32_t lim = c->info.max_workgroups_per_dim;
  if (gx > lim || gy > lim || gz > lim)
    return dp_error(DP_ERR_INVALID_ARG, "dispatch of %u x %u x %u workgroups exceeds the per-dimension limit %u (use dp_gpu_grid_2d)", gx, gy, gz, lim);
  return gpu_backend_dispatch_prepare(g); /* before this dispatch's uniforms */
}

/* Copy params into the arena (usize bytes, zero-padded); *off its offset. */
static dp_status arena_put(dp_gpu *g, const void *params, size_t params_size, uint32_t usize, uint32_t *off) {
  gpu_common *c = GPU_C(g);
  uint32_t o = (c->uniform_used + c->uniform_align - 1) / c->uniform_align * c->uniform_align;
  if (o + usize > GPU_UNIFORM_ARENA_BYTES) {
    dp_status st = dp_gpu_submit(g); /* arena full: flush what was recorded */
    if (st) return st;
    o = 0;
  }
  memset(c->uniform_host + o, 0, usize);
  if (params_size) memcpy(c->uniform_host + o, params, params_size);
  c->uniform_used = o + usize;
  *off = o;
  return DP_OK;
}

static void record(dp_gpu *g, dp_gpu_kernel *k, gpu_handle bg, uint32_t gx, uint32_t gy, uint32_t gz) {
  gpu_backend_record(g, k, bg, gx, gy, gz);
  GPU_C(g)->n_dispatch++;
}

dp_status dp_gpu_dispatch(dp_gpu *g, dp_gpu_kernel *k, const void *params, size_t params_size,
                          const dp_gpu_binding *bindings, size_t nb, uint32_t gx, uint32_t gy, uint32_t gz) {
  dp_status st = dispatch_checks(g, gx, gy, gz);
  uint32_t usize = uniform_size(params_size), off = 0;
  gpu_handle bg = 0;
  if (!st) st = arena_put(g, params, params_size, usize, &off);
  if (!st) st = make_bind_group(g, k, 0, off, usize, bindings, nb, &bg);
  if (!st) record(g, k, bg, gx, gy, gz);
  if (bg) gpu_backend_bind_group_free(bg); /* the pass keeps it alive */
  return st;
}

/* Write the slots b used since the last submit to its buffer (queued before the next submit). */
static void bound_upload(dp_gpu_bound *b) {
  if (b->used && b->gen == GPU_C(b->g)->n_submit) gpu_backend_uniform_write(b->g, b->ubuf, b->host, (size_t)b->used * b->stride);
}

/* At submit: every bound with slots used in this submit written; the next submit's dispatches
 * count from slot 0. */
static void bounds_upload(dp_gpu *g) {
  gpu_common *c = GPU_C(g);
  for (size_t i = 0; i < c->n_dirty; i++) {
    bound_upload(c->dirty[i]);
    c->dirty[i]->dirty = 0;
  }
  c->n_dirty = 0;
  c->n_submit++;
}

/* At close (gpu_common_free): a bound freed later leaves the device alone. */
static void bounds_forget(gpu_common *c) {
  for (size_t i = 0; i < c->n_dirty; i++) c->dirty[i]->dirty = 0;
  dp_free(c->dirty);
  c->dirty = NULL, c->n_dirty = c->cap_dirty = 0;
}

static void bound_release(dp_gpu_bound *b) {
  for (uint32_t i = 0; i < b->nslots; i++)
    if (b->bgs[i]) gpu_backend_bind_group_free(b->bgs[i]);
  if (b->ubuf) gpu_backend_uniform_free(b->ubuf);
  dp_free(b->bgs);
  dp_free(b->host);
  b->bgs = NULL, b->host = NULL, b->ubuf = 0, b->nslots = 0;
}

/* Give b n slots: a new buffer and a bind group per slot. Slots already used in this submit
 * are written to the old buffer now (their dispatches keep it) and their bytes carried over. */
static dp_status bound_slots(dp_gpu_bound *b, uint32_t n) {
  dp_gpu *g = b->g;
  bound_upload(b);
  uint8_t *host = dp_calloc(n, b->stride);
  gpu_handle *bgs = dp_calloc(n, sizeof *bgs), ubuf = 0;
  if (!host || !bgs) { dp_free(host); dp_free(bgs); return DP_ERR_NOMEM; }
  if (b->host) memcpy(host, b->host, (size_t)b->nslots * b->stride);
  dp_status st = gpu_backend_uniform_create(g, (uint64_t)n * b->stride, &ubuf);
  for (uint32_t i = 0; !st && i < n; i++) st = make_bind_group(g, b->k, ubuf, i * b->stride, b->usize, b->bind, b->nb, &bgs[i]);
  uint32_t used = b->used;
  uint64_t gen = b->gen;
  bound_release(b);
  b->ubuf = ubuf, b->host = host, b->bgs = bgs, b->nslots = n;
  if (st) { bound_release(b); return st; }
  b->used = used, b->gen = gen;
  return DP_OK;
}

dp_status dp_gpu_bound_create(dp_gpu *g, dp_gpu_kernel *k, size_t params_size, const dp_gpu_binding *bindings, size_t nb,
                              dp_gpu_bound **out) {
  gpu_common *c = GPU_C(g);
  *out = NULL;
  if (c->lost) return gpu_backend_error(g);
  size_t declared = k->n_kinds ? k->n_kinds - 1 : 0;
  if (nb > declared) /* (make_bind_group says the same; checked first: bind[] holds at most this many) */
    return dp_error(DP_ERR_INVALID_ARG, "dispatch of %s with %zu storage bindings: its module declares %zu", k->label, nb, declared);
  dp_gpu_bound *b = dp_calloc(1, sizeof *b);
  if (!b) return DP_ERR_NOMEM;
  b->g = g, b->k = k, b->nb = nb, b->params_size = params_size, b->usize = uniform_size(params_size);
  b->stride = (b->usize + c->uniform_align - 1) / c->uniform_align * c->uniform_align;
  if (nb) memcpy(b->bind, bindings, nb * sizeof *bindings);
  dp_status st = bound_slots(b, 1);
  if (st) { dp_free(b); return st; }
  *out = b;
  return DP_OK;
}

dp_status dp_gpu_dispatch_bound(dp_gpu *g, dp_gpu_bound *b, const void *params, uint32_t gx, uint32_t gy, uint32_t gz) {
  gpu_common *c = GPU_C(g);
  dp_status st = dispatch_checks(g, gx, gy, gz);
  if (st) return st;
  if (b->gen != c->n_submit) b->used = 0, b->gen = c->n_submit;
  if (b->used == b->nslots) {
    if (b->nslots < BOUND_MAX_SLOTS) st = bound_slots(b, b->nslots * 2);
    else if (!(st = dp_gpu_submit(g))) b->used = 0, b->gen = c->n_submit; /* every slot taken in this submit */
    if (st) return st;
  }
  if (!b->dirty) {
    if (c->n_dirty == c->cap_dirty) {
      size_t cap = c->cap_dirty ? c->cap_dirty * 2 : 64;
      dp_gpu_bound **d = dp_realloc(c->dirty, cap * sizeof *d);
      if (!d) return DP_ERR_NOMEM;
      c->dirty = d, c->cap_dirty = cap;
    }
    c->dirty[c->n_dirty++] = b;
    b->dirty = c->n_dirty;
  }
  uint8_t *slot = b->host + (size_t)b->used * b->stride;
  memset(slot, 0, b->usize);
  if (b->params_size) memcpy(slot, params, b->params_size);
  record(g, b->k, b->bgs[b->used++], gx, gy, gz);
  return DP_OK;
}

void dp_gpu_bound_free(dp_gpu_bound *b) {
  if (!b) return;
  if (b->dirty) { /* dispatches of it still to be submitted read these bytes */
    gpu_common *c = GPU_C(b->g);
    bound_upload(b);
    dp_gpu_bound *last = c->dirty[--c->n_dirty];
    c->dirty[b->dirty - 1] = last;
    last->dirty = b->dirty;
    b->dirty = 0;
  }
  bound_release(b);
  dp_free(b);
}

dp_gpu_kernel *dp_gpu_bound_kernel(const dp_gpu_bound *b) { return b->k; }
uint64_t dp_gpu_bind_group_count(const dp_gpu *g) { return ((const gpu_common *)g)->n_bind_groups; }
uint64_t dp_gpu_dispatch_count(const dp_gpu *g) { return ((const gpu_common *)g)->n_dispatch; }

void dp_gpu_grid_2d(const dp_gpu *g, uint64_t n, uint32_t *gx, uint32_t *gy) {
  uint32_t lim = ((const gpu_common *)g)->info.max_workgroups_per_dim;
  if (!lim) lim = 65535;
  if (n <= lim) { *gx = (uint32_t)(n ? n : 1); *gy = 1; return; }
  uint64_t y = (n + lim - 1) / lim;
  *gx = (uint32_t)((n + y - 1) / y);
  *gy = (uint32_t)y;
}

/* ---- read-backs: the blocking one is the halves in a row ---- */

dp_status dp_gpu_buffer_read(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, void *dst, size_t n) {
  dp_gpu_readback *r;
  dp_status st = dp_gpu_read_start(g, b, offset, n, &r);
  if (!st) st = dp_gpu_read_wait(g, r);
  if (st) { dp_gpu_read_discard(g, r); return st; }
  return dp_gpu_read_finish(g, r, dst);
}

uint64_t dp_gpu_wait_count(const dp_gpu *g) { return ((const gpu_common *)g)->n_wait; }

/* ---- buffers and textures: checked here, made by the backend ---- */

dp_status dp_gpu_buffer_create(dp_gpu *g, uint64_t size, const char *label, dp_gpu_buffer **out) {
  gpu_common *c = GPU_C(g);
  *out = NULL;
  if (c->lost) return gpu_backend_error(g);
  size = (size + 3) & ~(uint64_t)3;
  if (!size) size = 4;
  if (size > c->info.max_buffer)
    return dp_error(DP_ERR_GPU, "buffer '%s' of %llu bytes exceeds the device limit maxBufferSize %llu", label ? label : "",
                    (unsigned long long)size, (unsigned long long)c->info.max_buffer);
  dp_gpu_buffer *b = dp_calloc(1, sizeof *b);
  if (!b) return DP_ERR_NOMEM;
  b->size = size;
  dp_status st = gpu_backend_buffer_create(g, b, label);
  if (st) {
    dp_free(b);
    return st;
  }
  *out = b;
  return DP_OK;
}

void dp_gpu_buffer_free(dp_gpu_buffer *b) {
  if (!b) return;
  gpu_backend_buffer_free(b);
  dp_free(b);
}

uint64_t dp_gpu_buffer_size(const dp_gpu_buffer *b) { return b->size; }

dp_status dp_gpu_buffer_write(dp_gpu *g, dp_gpu_buffer *b, uint64_t offset, const void *src, size_t n) {
  if (GPU_C(g)->lost) return gpu_backend_error(g);
  if ((offset | n) & 3) return dp_error(DP_ERR_INVALID_ARG, "buffer write of %zu bytes at %llu: not a multiple of 4", n, (unsigned long long)offset);
  if (offset + n > b->size)
    return dp_error(DP_ERR_INVALID_ARG, "buffer write [%llu, +%zu) past the end of a %llu-byte buffer",
                    (unsigned long long)offset, n, (unsigned long long)b->size);
  if (n) gpu_backend_buffer_write(g, b, offset, src, n);
  return DP_OK;
}

dp_status dp_gpu_copy(dp_gpu *g, dp_gpu_buffer *src, uint64_t so, dp_gpu_buffer *dst, uint64_t dof, uint64_t n) {
  if (GPU_C(g)->lost) return gpu_backend_error(g);
  if ((so | dof | n) & 3) return dp_error(DP_ERR_INVALID_ARG, "buffer copy: offsets and size must be multiples of 4");
  if (so + n > src->size || dof + n > dst->size) return dp_error(DP_ERR_INVALID_ARG, "buffer copy out of bounds");
  gpu_backend_copy(g, src, so, dst, dof, n);
  return DP_OK;
}

dp_status gpu_check_read(dp_gpu *g, const dp_gpu_buffer *b, uint64_t offset, size_t n, uint64_t *n4) {
  if (GPU_C(g)->lost) return gpu_backend_error(g);
  if ((offset & 3) || offset + n > b->size)
    return dp_error(DP_ERR_INVALID_ARG, "buffer read [%llu, +%zu) invalid for a %llu-byte buffer",
                    (unsigned long long)offset, n, (unsigned long long)b->size);
  *n4 = (n + 3) & ~(uint64_t)3;
  if (offset + *n4 > b->size) *n4 = b->size - offset; /* size is a multiple of 4 */
  return DP_OK;
}

dp_status dp_gpu_texture_create(dp_gpu *g, uint32_t width, uint32_t height, const char *label, dp_gpu_texture **out) {
  gpu_common *c = GPU_C(g);
  *out = NULL;
  if (c->lost) return gpu_backend_error(g);
  if (!width || !height || width > c->info.max_texture_2d || height > c->info.max_texture_2d)
    return dp_error(DP_ERR_INVALID_ARG, "texture '%s' of %u x %u texels: each side must be 1..%u (maxTextureDimension2D)",
                    label ? label : "", width, height, c->info.max_texture_2d);
  dp_gpu_texture *t = dp_calloc(1, sizeof *t);
  if (!t) return DP_ERR_NOMEM;
  t->width = width, t->height = height;
  dp_status st = gpu_backend_texture_create(g, t, label);
  if (st) {
    dp_free(t);
    return st;
  }
  *out = t;
  return DP_OK;
}

dp_status dp_gpu_texture_write(dp_gpu *g, dp_gpu_texture *t, uint32_t x, uint32_t y, uint32_t w, uint32_t h,
                               const void *data) {
  if (GPU_C(g)->lost) return gpu_backend_error(g);
  if ((uint64_t)x + w > t->width || (uint64_t)y + h > t->height)
    return dp_error(DP_ERR_INVALID_ARG, "texture write of %u x %u texels at (%u, %u) outside a %u x %u texture", w, h, x, y,
                    t->width, t->height);
  if (w && h) gpu_backend_texture_write(g, t, x, y, w, h, data);
  return DP_OK;
}

uint32_t dp_gpu_texture_width(const dp_gpu_texture *t) { return t->width; }

void dp_gpu_texture_free(dp_gpu_texture *t) {
  if (!t) return;
  gpu_backend_texture_free(t);
  dp_free(t);
}
