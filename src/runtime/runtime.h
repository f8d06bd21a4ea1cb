/* runtime.h -- the GPU runtime: a model's weights in GPU buffers, sessions holding a KV cache
 * and activations, the forward graph (prefill and decode), GPU sampling and the batched
 * decode loop. The public API (src/api/) is a thin layer over this; tests use it directly.
 *
 * Object lifetimes (llama2.c style, one build/free pair each):
 *   dp_rt_model    the plan + every weight tensor uploaded once (weights.c)
 *   dp_rt_session  KV cache, activation buffers, sampler scratch (session.c)
 * Graph recording (forward.c) only records dispatches; session.c / generate.c decide when to
 * submit and what to read back (token ids, or logits for tests); generate.c never waits for a
 * read-back (the host does, between dp_rt_gen_step calls). */
#ifndef DP_RUNTIME_RUNTIME_H
#define DP_RUNTIME_RUNTIME_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"
#include "format/model_file.h"
#include "gpu/gpu.h"
#include "kernels/ops.h"
#include "model/plan.h"

/* One weight tensor on the GPU. 1-D tensors (norms, biases, sinks) are converted to f32 on
 * upload, in `buf`. Matrices keep their stored type (ops.h takes them all) in a dp_weight
 * (ops.h: parts of whole rows, each within one storage binding, with texture copies on CPU
 * adapters), which may hold more than this matrix: stacked q|k|v and gate|up are row ranges
 * of one dp_weight, a tied LM head is the embedding's. */
typedef struct dp_rt_weight {
  dp_gpu_buffer *buf;   /* 1-D tensors: [cols] f32; NULL = absent */
  dp_weight *mat;       /* matrices: the weight holding this one's rows; NULL = absent */
  uint32_t row0;        /* this matrix's first row in mat */
  dp_dtype dtype;
  uint64_t rows, cols;  /* [rows, cols]; 1-D tensors: rows = 1 */
} dp_rt_weight;

/* A mixture-of-experts layer (experts.c): the router and, per matrix kind (gate, up, down),
 * a bank of the experts in their stored type (ops.h dp_moe_bank) with the map expert -> slot. */
typedef struct dp_rt_moe {
  dp_gpu_buffer *router;        /* [E, d_model] stored type */
  dp_dtype router_type;
  dp_gpu_buffer *router_bias;   /* [E] f32 or NULL */
  dp_moe_bank bank[3];          /* gate [E][moe_d_ff, d], up, down [E][d, moe_d_ff] */
  dp_gpu_buffer *bias[3];       /* [E, N] f32 (gpt-oss) or NULL */
  dp_gpu_buffer *map;           /* [E] u32 expert -> slot, shared by the three banks */
  /* residency (experts.c): with a budget, n_slots < E slots per bank, paged from the source */
  uint32_t *slot_of;            /* [E] host copy of map (0xffffffff: not resident) */
  int32_t *in_slot;             /* [n_slots] the expert in each slot, -1 free */
  uint64_t *used;               /* [n_slots] LRU clock of each slot's last use */
  const dp_tensor_info **src;   /* [3 * E] each expert's gate / up / down tensor in the source */
} dp_rt_moe;

/* Expert residency over a model (experts.c): every expert resident (slots == E), or at most
 * `slots` experts of each MoE layer on the GPU, paged on demand from the model source, which the
 * model then keeps open (and closes at free). Counters for --verbose. */
typedef struct dp_rt_experts {
  uint32_t slots;               /* experts per MoE layer on the GPU */
  uint64_t budget_bytes;        /* as asked (0: by count, or none) */
  int paged;                    /* slots < n_experts: ids read back once per MoE layer */
  dp_model_file *src;           /* the model source (owned once the load succeeded) */
  int owns_src;
  uint8_t *staging;             /* [DP_RT_EXPERT_STAGING] host staging for page-ins */
  uint64_t clock, hits, misses, paged_bytes;
} dp_rt_experts;
#define DP_RT_EXPERT_STAGING (4u << 20)

typedef struct dp_rt_layer {
  dp_rt_weight attn_norm, q, k, v, o, q_bias, k_bias, v_bias, o_bias, q_norm, k_norm, sinks;
  dp_rt_weight attn_post_norm, ffn_norm, ffn_post_norm, gate, up, down;
  /* Fused views for decode (T = 1), set when the rows stack with 256-aligned offsets:
   * qkv = [q; k; v] rows [qd + 2 kd, d] (q, k, v are row ranges of it), gate_up = [gate; up];
   * qk = [q; k] when v alone has another type (q4_k_m's Q6_K v in some layers; qkv then unset). */
  dp_rt_weight qkv, gate_up, qk;
  dp_gpu_buffer *inv_freq; /* [rot_dim/2] f32 (shared between layers with equal tables) */
  float rope_attn_factor;
  int rot_dim, rope_style;
  dp_rt_moe *moe;          /* MoE layers: router and experts (gate, up, down above unused) */
} dp_rt_layer;

typedef struct dp_rt_model {
  dp_gpu *gpu;
  dp_ops *ops;
  dp_plan *plan;
  dp_rt_weight embed, final_norm, output;  /* output may share embed's dp_weight (tied) */
  dp_rt_layer *layers;                     /* [n_layers] */
  dp_gpu_buffer **owned;                   /* every 1-D tensor buffer to free, [n_owned] */
  size_t n_owned, cap_owned;
  dp_weight **owned_w;                     /* every matrix to free, [n_w] */
  size_t n_w, cap_w;
  uint64_t weight_bytes;
  int32_t eos[16];                         /* end-of-generation ids (plan's, plus the tokenizer's) */
  int n_eos;
  int q4k_dequant, f16;                    /* dp_rt_load_opts */
  struct dp_rt_batch *batch;               /* scratch of batched decode steps (batch.c), made at first use */
  dp_rt_experts *ex;                       /* MoE models: expert residency (experts.c), else NULL */
} dp_rt_model;

/* ---- weights.c: resumable upload of the weights ----
 * dp_rt_load_begin builds and checks the plan, creates every buffer and lists the uploads
 * (chunks of whole rows, at most 4 MiB each, in tensor order); dp_rt_load_step then runs
 * uploads until one of three things, given in *state:
 *   DP_RT_LOAD_NEED   the next upload needs bytes the model file does not hold (a supplied
 *                     model, format/model_file.h): *piece names them; the host hands them to
 *                     dp_model_file_supply and steps again;
 *   DP_RT_LOAD_DRAIN  64 MiB of writes were queued (and submitted): the host lets the GPU take
 *                     them (natively dp_gpu_finish, in the browser onSubmittedWorkDone), so
 *                     upload staging stays bounded, and steps again;
 *   DP_RT_LOAD_DONE   every tensor is on the GPU: dp_rt_load_end hands the model over.
 * No step waits for the GPU. Host memory is one 4 MiB staging buffer plus the supplied piece:
 * never a copy of the model. The model keeps no reference to mf. */
typedef struct dp_rt_loader dp_rt_loader;
enum { DP_RT_LOAD_DONE = 0, DP_RT_LOAD_NEED = 1, DP_RT_LOAD_DRAIN = 2 };
/* Load-time choices (the API resolves them from flags, manifest hints and defaults; o NULL or
 * both 0 is dp_rt_model_load): q4k_dequant expands Q4_K matrices once at load, chunk by chunk
 * through the staging buffer, into dense rows read by the dense kernels (--q4k-matmul dequant);
 * f16 (--compute-precision f16) makes the dense matrices f16: F32 matrices and expanded Q4_K
 * ones are stored as F16 (round to nearest even), BF16/F16 and the other block types as they are. */
/* expert_slots (> 0): at most that many experts of each MoE layer resident; expert_bytes (> 0):
 * a byte budget over all experts of all MoE layers; both 0: every expert resident. A budget
 * below top-k experts per layer is DP_ERR_INVALID_ARG. When experts are paged the model keeps
 * mf open and closes it itself (dp_rt_experts_owns_source); paging reads a local model file. */
typedef struct dp_rt_load_opts { int q4k_dequant, f16; int expert_slots; uint64_t expert_bytes; } dp_rt_load_opts;
dp_status dp_rt_load_begin(dp_gpu *g, dp_model_file *mf, const dp_rt_load_opts *o, dp_rt_loader **out);
dp_status dp_rt_load_step(dp_rt_loader *L, int *state, dp_mf_piece *piece);
/* Stored bytes uploaded so far and in all. */
void dp_rt_load_progress(const dp_rt_loader *L, uint64_t *done, uint64_t *total);
/* After DONE: the model (frees L, also on failure). */
dp_status dp_rt_load_end(dp_rt_loader *L, dp_rt_model **out);
void dp_rt_load_free(dp_rt_loader *L);
/* blocking.c: begin, steps with dp_gpu_finish at each drain, end (model files with local
 * bytes); dp_rt_model_load is this with o NULL. */
dp_status dp_rt_model_load_with(dp_gpu *g, dp_model_file *mf, const dp_rt_load_opts *o, dp_rt_model **out);
dp_status dp_rt_model_load(dp_gpu *g, dp_model_file *mf, dp_rt_model **out);
void dp_rt_model_free(dp_rt_model *m);

/* Sampling parameters as the GPU sampler takes them (doppler.h dp_sampling mirrors them). */
typedef struct dp_rt_sampling {
  float temperature;     /* 0 = greedy */
  int top_k;             /* 0 = off */
  float top_p;           /* >= 1 = off */
  float min_p;           /* 0 = off */
  float repeat_penalty;  /* 1 = off */
  int repeat_last_n;     /* tokens of history the penalty looks at */
  uint64_t seed;
  int no_eos;            /* never choose an end-of-sequence id */
} dp_rt_sampling;

typedef struct dp_rt_session dp_rt_session;
struct dp_rt_session {
  dp_rt_model *m;
  int ctx;               /* context length (positions) */
  int chunk;             /* max tokens per forward pass (prefill chunk) */
  int steps;             /* decode steps per submit */
  int pos;               /* tokens whose K/V are in the cache */
  int logits_valid;      /* logits row 0 holds the prediction after token pos-1 */
  int32_t pending;       /* a sampled token not yet fed (takes position pos), or -1 */
  int pending_in_cur;    /* ... and cur_id on the GPU holds it */
  int lrows;             /* rows of the logits buffer */
  uint64_t n_sampled;    /* sampler step counter (RNG stream position) */
  volatile int cancel;
  /* KV cache, per layer: [cap, n_kv_heads, head_dim] f32 each (ops.h layout, ring if cap < ctx) */
  dp_gpu_buffer **kc, **vc;
  uint32_t *cap;         /* [n_layers] */
  /* activations, rows = chunk */
  dp_gpu_buffer *x;      /* [chunk, d_model] residual stream */
  dp_gpu_buffer *h;      /* [chunk, d_model] normed input of a block / final hidden */
  dp_gpu_buffer *q;      /* [chunk, n_heads * head_dim] */
  dp_gpu_buffer *k, *v;  /* [chunk, n_kv_heads * head_dim] */
  dp_gpu_buffer *att;    /* [chunk, n_heads * head_dim] attention output */
  dp_gpu_buffer *gate;   /* [chunk, d_ff] */
  dp_gpu_buffer *up;     /* [chunk, d_ff] */
  dp_gpu_buffer *tmp;    /* [chunk, d_model] branch output before a post-norm (sandwich) */
  dp_gpu_buffer *qkv1;   /* [n_heads + 2 n_kv_heads, head_dim] fused decode projections */
  dp_gpu_buffer *gu1;    /* [2, d_ff] fused decode gate | up */
  dp_gpu_buffer *xq;     /* decode rows' input as int8 blocks (ops.h dp_xq_bytes of the widest input); NULL
                          * unless the ops take matvec input q8 */
  struct {               /* forward.c: the input the next int8 products read, quantized on first need */
    dp_view x;           /* f32 rows before the prologue */
    uint32_t K;
    dp_gemv_pro pro;     /* kind NONE / RMSNORM / GLU */
    int done;            /* quantize_x has written it into xq (a product that cannot quantize in itself) */
  } q8in;
  dp_gpu_buffer *hrow;   /* [lrows, d_model] aligned copy of final hidden rows for the LM head */
  dp_gpu_buffer *ids;    /* [chunk] u32 input ids of a prefill pass */
  dp_gpu_buffer *cur_id; /* [1] u32 the decode input id, written by the sampler */
  dp_gpu_buffer *logits; /* [lrows, vocab] f32 */
  /* sampling */
  dp_gpu_buffer *hist;   /* [ctx + steps] u32 every token fed or sampled, by position */
  dp_gpu_buffer *work;   /* [vocab] f32 sampler scratch */
  dp_gpu_buffer *out_ids;/* [steps] u32 ids sampled in one batch */
  dp_gpu_buffer *targets;/* [lrows] u32 next-token targets for scoring */
  dp_gpu_buffer *nll;    /* [lrows] f32 negative log-likelihoods */
  /* MoE models (experts.c), R = chunk * top-k (token, choice) pairs */
  dp_gpu_buffer *moe_logits; /* [chunk, E] router logits */
  dp_gpu_buffer *moe_ids;    /* [R] u32 chosen experts */
  dp_gpu_buffer *moe_w;      /* [R] f32 their weights */
  dp_gpu_buffer *moe_grp;    /* [E + 1 + R] u32 pairs grouped by expert (prefill) */
  dp_gpu_buffer *moe_g, *moe_u; /* [R, moe_d_ff] expert gate / up (then the activation in moe_g) */
  dp_gpu_buffer *moe_y;      /* [R, d_model] expert outputs */
  /* the decode step's dispatches resolved once (ops.h dispatch sites: bind groups made at the
   * first step, reused after): the body of a 1-token pass, the 1-row LM head, the sampler
   * (a batch's: its pass's body and LM head) */
  dp_op_sites *sites[3];
  /* A batch's rows (batch.c): the activations above (qkv1, gu1 too) hold `chunk` rows, row i
   * one decode token of session rows[i] at position rows[i]->pos, against rows[i]'s KV cache;
   * such a "session" has no KV cache or sampler buffers of its own. NULL: a real session. */
  dp_rt_session *const *rows;
};
enum { DP_RT_SITES_BODY, DP_RT_SITES_HEAD, DP_RT_SITES_SAMPLE };

/* ctx <= 0: the model's max positions, at most 4096. chunk/steps <= 0: defaults (512 / 8). */
dp_status dp_rt_session_create(dp_rt_model *m, int ctx, int chunk, int steps, dp_rt_session **out);
void dp_rt_session_free(dp_rt_session *s);
void dp_rt_session_reset(dp_rt_session *s);

/* ---- experts.c: mixture-of-experts layers ---- */
/* Before the layers load: the residency of an MoE model (no-op for dense ones). */
dp_status dp_rt_experts_init(dp_rt_model *m, dp_model_file *mf, const dp_rt_load_opts *o);
/* After a successful load: 1 when the model now owns mf (experts paged from it). */
int dp_rt_experts_owns_source(dp_rt_model *m);
void dp_rt_experts_free(dp_rt_experts *ex);
/* One upload of an MoE layer's weights: stored bytes [off, off + n) of tensor t (n within
 * DP_RT_EXPERT_STAGING - 4), or (f32) the whole 1-D tensor t as f32, written to buf at byte
 * dst (4-aligned; the last bytes zero-padded to 4). dp_rt_moe_load hands each to `copy`, which
 * runs it at once (dp_rt_copy_run through a staging buffer of DP_RT_EXPERT_STAGING bytes) or
 * lists it for a resumable upload. */
typedef struct dp_rt_copy {
  const dp_tensor_info *t;
  uint64_t off, n;
  int f32;
  dp_gpu_buffer *buf;
  uint64_t dst;
} dp_rt_copy;
typedef dp_status (*dp_rt_copy_fn)(void *ctx, const dp_rt_copy *c);
dp_status dp_rt_copy_run(dp_rt_model *m, dp_model_file *mf, const dp_rt_copy *c, uint8_t *staging);
/* Create layer li's router and expert buffers and hand their uploads to copy. */
dp_status dp_rt_moe_load(dp_rt_model *m, dp_model_file *mf, int li, dp_rt_copy_fn copy, void *ctx);
void dp_rt_moe_free(dp_rt_moe *x);
/* The session's MoE scratch buffers (moe_*). */
dp_status dp_rt_moe_session(dp_rt_session *s);
/* Record layer li's feed-forward block: x += MoE(norm(x)) for T tokens (routing on the GPU). */
dp_status dp_rt_record_moe(dp_rt_session *s, int li, uint32_t T);

/* ---- forward.c: graph recording ---- */
/* Record embed + every layer for T tokens at positions pos0.. whose ids are in `ids`
 * ([T] u32); leaves the final-normed hidden rows in s->h [T, d_model]. With s->rows (a
 * batch), row i is a decode token of s->rows[i] at its own position (pos0 unused).
 * Decode (T == 1, or a batch) is batch-invariant: every matrix product runs with DP_MM_ROWS
 * and the other ops work row by row, so a row's results never depend on the other rows. */
dp_status dp_rt_record_body(dp_rt_session *s, dp_view ids, uint32_t T, uint32_t pos0);
/* Record the LM head for hidden rows [row0, row0+n) of s->h into logits rows [0, n). */
dp_status dp_rt_record_head(dp_rt_session *s, uint32_t row0, uint32_t n);

/* ---- session.c: evaluation ---- */
/* Feed n ids (chunked); logits [n][vocab] of every position to the host (NULL: only the last
 * position's logits are kept on the GPU, for sampling). DP_ERR_CONTEXT_FULL past ctx. */
dp_status dp_rt_eval(dp_rt_session *s, const int32_t *ids, size_t n, float *logits);
/* The same without waiting, for at most dp_rt_eval_rows(s) ids: records their forward pass and
 * LM head and starts the read-back of their logits [n][vocab] (the host awaits it, then
 * dp_gpu_read_finish); the session then holds them and valid logits, as after dp_rt_eval. */
#define DP_RT_EVAL_MAX_ROWS 512
dp_status dp_rt_eval_start(dp_rt_session *s, const int32_t *ids, size_t n, dp_gpu_readback **rb);
int dp_rt_eval_rows(const dp_rt_session *s);
/* NLL of ids[1..n-1] from an empty cache (n <= ctx). nll[n-1]. Leaves the session reset. */
dp_status dp_rt_score(dp_rt_session *s, const int32_t *ids, size_t n, double *nll);

/* ---- sampler.c: GPU sampling kernels ---- */
/* Record: pick a token from logits row 0 (s->logits) with params sp; write it to s->cur_id,
 * s->out_ids[out_index] and s->hist[hist_pos]; step selects the RNG draw. */
dp_status dp_rt_record_sample(dp_rt_session *s, const dp_rt_sampling *sp, uint32_t out_index,
                              uint32_t hist_pos, uint64_t step);
/* The same from the logits row at `logits` ([vocab] f32) into out_ids[out_index]. */
dp_status dp_rt_record_sample_from(dp_rt_session *s, const dp_rt_sampling *sp, dp_view logits, dp_view out_ids,
                                   uint32_t out_index, uint32_t hist_pos, uint64_t step);
/* Record: nll[out_off + r] = logsumexp(logits[r, :]) - logits[r, targets[tgt_off + r]], r < rows. */
dp_status dp_rt_record_nll(dp_rt_session *s, uint32_t rows, uint32_t out_off, uint32_t tgt_off);
/* Record: logits[r, :] = c * tanh(logits[r, :] / c), r < rows (final softcap). */
dp_status dp_rt_record_softcap(dp_rt_session *s, uint32_t rows, float c);

/* ---- generate.c: the resumable batched decode (ids only; text is the API's business) ---- */
/* Called with each batch of accepted ids; return 0 to go on, or j (1..n) to stop after ids[j - 1]:
 * only ids[0..j) stay in the session's context (the rest of the batch is as never sampled);
 * a value above n stops after all n. */
typedef int (*dp_rt_ids_fn)(void *user, const int32_t *ids, size_t n);
#define DP_RT_GEN_MAX_STEPS 256 /* steps per batch at most (more in a session are clamped) */
/* The read-back of a batched step (batch.c), shared by the generations it stepped: the first
 * one to take its ids finishes it for all; freed with the last reference. */
typedef struct dp_rt_shared {
  dp_gpu *gpu;
  dp_gpu_readback *rb;   /* in flight, NULL once finished */
  dp_status st;          /* how finishing it went */
  int refs;
  uint32_t ids[];        /* [rows] once finished: row i's sampled id */
} dp_rt_shared;
void dp_rt_shared_release(dp_rt_shared *sh);
/* One generation in progress on a session: at most one read-back (a batch's ids) in flight. */
typedef struct dp_rt_gen {
  dp_rt_session *s;
  dp_rt_sampling sp;
  int max_new;           /* as asked (0 = until the context is full) */
  int limit;             /* tokens to produce at most */
  int steps;             /* steps per batch after the first */
  int made;              /* tokens accepted so far */
  int batch;             /* batches submitted */
  int eos;               /* ended on an end-of-generation id */
  int prefilled;         /* the prefill read-back (sync_prefill) or the first batch completed */
  int done;              /* ended (or failed): no further step */
  int B; uint32_t p0;    /* the batch in flight: its steps, the position of its first id */
  int prev_pos, prev_logits_valid; int32_t prev_pending; /* session state before it */
  dp_gpu_readback *rb;   /* the read-back in flight, NULL when none */
  dp_rt_shared *sh; uint32_t row; /* or: the batched step in flight and this generation's row */
  int mark;              /* batch.c: being stepped (duplicates in one call) */
  /* ahead (dp_rt_gen_set_ahead): the next batch, recorded and submitted while the one in flight
   * runs, as if that one ends without a stop; dropped when it does stop. Its steps, the position
   * of its first id, its read-back, and the session state its recording left. */
  int ahead;
  struct { int B; uint32_t p0; dp_gpu_readback *rb; int pos, logits_valid; } next;
} dp_rt_gen;
/* Start sampling up to max_new tokens (0 = until the context is full): checks the room, then
 * submits work and returns without waiting. sync_prefill: first only a 4-byte read-back that
 * completes with the work already submitted (the prefill, so its time can be measured), the
 * first batch at the next step; else the first batch (one step, so the first token comes
 * right after the prefill) at once. The session must hold valid logits or a pending token. */
dp_status dp_rt_gen_begin(dp_rt_session *s, const dp_rt_sampling *sp, int max_new, int sync_prefill, dp_rt_gen **out);
/* 1 while a read-back is in flight: the host waits for it (dp_gpu_read_poll / _wait on
 * dp_rt_gen_readback, or the browser's mapAsync), then calls dp_rt_gen_step. */
int dp_rt_gen_pending(const dp_rt_gen *g);
/* The read-back to wait for; NULL when none is left (a batched step's read-back that another
 * generation of the step already took: dp_rt_gen_poll is 1). */
dp_gpu_readback *dp_rt_gen_readback(const dp_rt_gen *g);
/* Never blocks: 1 when dp_rt_gen_step may be called (read-back completed, or none pending). */
int dp_rt_gen_poll(const dp_rt_gen *g);
/* After the read-back completed: accept its ids up to and including an end-of-generation id
 * (unless sp->no_eos), hand them to cb (nonzero: stop), then, unless generation ends (EOS,
 * stop, the limit; DP_ERR_CANCELLED after s->cancel was set; DP_ERR_CONTEXT_FULL when
 * max_new was 0 and the context filled), record and submit the next batch of `steps` and start
 * its read-back. Never waits. Stepping a generation whose read-back has not completed is
 * DP_ERR_INVALID_ARG (nothing changes). */
dp_status dp_rt_gen_step(dp_rt_gen *g, dp_rt_ids_fn cb, void *user);
/* dp_rt_gen_step in halves: collect (accept the completed read-back's ids, or end: then
 * g->done; DP_ERR_INVALID_ARG without g->done = too early, nothing changed), then, unless
 * done, either dp_rt_gen_submit (this generation's next batch of steps, alone) or a batched
 * step of several generations (dp_rt_batch_step). A failed submit ends g. */
dp_status dp_rt_gen_collect(dp_rt_gen *g, dp_rt_ids_fn cb, void *user);
dp_status dp_rt_gen_submit(dp_rt_gen *g);
/* Ahead on: from the next submit, one more batch is recorded and submitted speculatively
 * behind the one in flight (when the limit leaves room), so the host's recording and Dawn's
 * submit overlap the GPU's work instead of following it; a stop (EOS, callback, cancel, limit)
 * drops it. Only for a generation stepped alone (dp_rt_gen_submit, never dp_rt_batch_step).
 * Sliding-window rings are sized for the extra batch (session.c). */
void dp_rt_gen_set_ahead(dp_rt_gen *g, int on);
/* Free; a batch still in flight is dropped and the session put back as before it (its pending
 * token then re-fed from the CPU). NULL: nothing. */
void dp_rt_gen_free(dp_rt_gen *g);
/* The session's pending token, if any, into cur_id; else its logits must be valid. */
dp_status dp_rt_gen_prepare(dp_rt_session *s);
/* Record the forward pass of the pending token (in cur_id); then the logits predict pos + 1. */
dp_status dp_rt_record_feed_pending(dp_rt_session *s);
int dp_rt_is_eos(const dp_rt_model *m, int32_t id);
/* Add an end-of-generation id (e.g. the tokenizer's <|eot_id|>); duplicates ignored. */
void dp_rt_model_add_eos(dp_rt_model *m, int32_t id);

/* ---- batch.c: continuous batching ---- */
/* The scratch of batched steps (one per model, m->batch): grown to the largest step seen. */
struct dp_rt_batch {
  dp_rt_session *act;       /* activations of `cap` rows (no KV cache) */
  uint32_t cap;             /* rows per forward pass (act->chunk) */
  size_t want;              /* rows asked for when act was made */
  dp_gpu_buffer *ids;       /* input ids: pass j's [cap] u32 at j * stride */
  uint64_t stride;          /* bytes per pass region, a multiple of 256 */
  size_t n_regions;
  dp_gpu_buffer *out;       /* [n_out] u32: the step's sampled ids, read back once */
  size_t n_out;
  dp_rt_session **rs;       /* [cap] row sessions of the pass being recorded */
  uint32_t *host;           /* [cap] its input ids */
};
/* One decode step for each of gens[0..n) (collected, not done, nothing in flight; sessions of
 * model m, each once): one forward pass per up to `cap` rows over the generations with a
 * token to feed (matrix products with M = rows, attention per session), one sampling per
 * generation with its own parameters, one submit, one read-back shared by all (each gen's
 * `sh`). Each generation's ids are identical to stepping it alone (batch-invariant decode).
 * A failure ends every generation of the step (done). Scratch buffers live in m->batch. */
dp_status dp_rt_batch_step(dp_rt_model *m, dp_rt_gen **gens, size_t n);
void dp_rt_batch_free(struct dp_rt_batch *b);
/* Activation rows of a batch: a session without KV cache whose activations hold `rows` rows
 * (session.c; rows may be lowered to fit the storage binding limit: s->chunk). */
dp_status dp_rt_session_create_rows(dp_rt_model *m, int rows, dp_rt_session **out);

/* ---- blocking.c: blocking drivers (native tools: bench, logits, golden tests) ---- */
/* dp_rt_gen_begin, then wait + step until done. *n_out gets the number of tokens produced. */
dp_status dp_rt_generate(dp_rt_session *s, const dp_rt_sampling *sp, int max_new, dp_rt_ids_fn cb,
                         void *user, int *n_out, int *hit_eos);
/* Greedy continuation of exactly n tokens (EOS never chosen); logits [n][vocab] or NULL:
 * the raw logits each id was chosen from. The session must hold valid logits. */
dp_status dp_rt_greedy(dp_rt_session *s, size_t n, int32_t *ids, float *logits);
#endif
