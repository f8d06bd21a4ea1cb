/* doppler.h -- the public C API of the DOPPLER inference engine.
 *
 * A model is loaded once (weights streamed into GPU buffers); sessions hold a KV cache and
 * generate text from it. Every function that can fail returns a dp_status; the one-line
 * message of the last failure is dp_error_message() (doppler_status.h).
 *
 *   dp_model *m;  dp_session *s;
 *   dp_model_load("models/doppler-tiny-f16", NULL, &m);
 *   dp_session_create(m, NULL, &s);
 *   dp_generate_options o = dp_generate_defaults();
 *   dp_generate(s, "The jury said", &o, on_token, user);   // streams text pieces
 *   dp_session_free(s); dp_model_free(m);
 *
 * Everything runs on the calling thread (the browser build has no threads). dp_session_cancel
 * may be called from the token callback (or a signal handler): generation stops after the
 * current batch with DP_ERR_CANCELLED.
 *
 * dp_generate blocks until the end. Underneath it is resumable generation (dp_gen_*), where
 * no call waits for the GPU: each submits work and returns; the host waits for the read-back
 * in flight (natively dp_gen_wait or dp_gen_poll, in the browser the mapAsync promise) and
 * calls dp_gen_resume. One thread can so drive several sessions at once (the server). */
#ifndef DOPPLER_H
#define DOPPLER_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"

#define DOPPLER_VERSION "0.1.0" /* `doppler --version`; bumped with a change to this API */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dp_model dp_model;
typedef struct dp_session dp_session;

/* ---- models ---- */
typedef struct dp_load_options {
  const char *adapter;  /* NULL/"" = $DOPPLER_ADAPTER then automatic; "lavapipe", "swiftshader", ... */
  int verbose;          /* 1: progress lines on stderr */
  /* Kernel hot swap: n_kernels entries "NAME=MODULE", each replacing kernel variant NAME (of
   * dp_kernel_list) with the complete WGSL module MODULE (its bindings and entry point, as
   * dp_kernel_dump gives it). Each is first run on a small problem against the CPU reference;
   * a module that fails to compile or to match fails the load with "kernel NAME: why". */
  const char *const *kernels;
  int n_kernels;
  /* Run-time overrides (docs/runtime.md, "Q4_K matmul and compute precision"); 0 = the RDRR
   * manifest's hint (hints.q4kMatmul, hints.computePrecision), else the default (fused, f32).
   * q4k_matmul: DP_Q4K_FUSED, the Q4_K kernels decode the blocks; DP_Q4K_DEQUANT, Q4_K
   * matrices are expanded once at load (to f32, or f16 with compute precision f16) and read by
   * the dense kernels. compute_precision: DP_PRECISION_F32 or DP_PRECISION_F16 (needs
   * shader-f16: without it f32, with a one-line warning). */
  int q4k_matmul;
  int compute_precision;
  /* Mixture-of-experts residency (docs/runtime.md, "Expert residency"); both 0 = every expert
   * on the GPU. expert_budget_n: at most N experts of each MoE layer resident at once (N >=
   * the model's top-k); expert_budget_bytes: a byte budget over all experts. Experts are then
   * paged in from the model file (kept open) as the router picks them, LRU eviction; results
   * are identical. A budget below top-k experts per layer fails the load with
   * DP_ERR_INVALID_ARG. Dense models ignore both. */
  int expert_budget_n;
  uint64_t expert_budget_bytes;
  /* Decode matrix-vector products on GPUs (docs/runtime.md, "Matvec input"): DP_MATVEC_AUTO (0)
   * and DP_MATVEC_Q8: the input of the Q4_K / Q6_K / Q8_0 products quantized once to int8 blocks
   * of 32 and multiplied with integer dot products (dot4I8Packed) where the adapter runs the GPU
   * kernel family with it (not on CPU adapters unless DP_MATVEC_Q8 with that family forced);
   * DP_MATVEC_F32: the f32-input kernels (exact f32 products, slower). */
  int matvec_input;
} dp_load_options;
/* "--expert-budget" values: a count ("4": experts per MoE layer) or a size with a unit K, M, G
 * or T (binary: "64M", "2G"; "B" for plain bytes): sets exactly one of *n, *bytes (the other 0).
 * DP_ERR_INVALID_ARG with the reason otherwise. */
dp_status dp_parse_expert_budget(const char *s, int *n, uint64_t *bytes);
/* Expert residency of a loaded model: slots per MoE layer, whether paged, and counters since
 * load (hits: chosen experts already resident; misses: paged in; paged_bytes: bytes read). */
typedef struct dp_expert_stats {
  int moe;                   /* the model has MoE layers */
  int slots, n_experts, paged;
  uint64_t budget_bytes;     /* as asked (0 = by count or none) */
  uint64_t hits, misses, paged_bytes;
} dp_expert_stats;
dp_status dp_model_expert_stats(const dp_model *m, dp_expert_stats *out);
enum { DP_Q4K_AUTO = 0, DP_Q4K_FUSED = 1, DP_Q4K_DEQUANT = 2 };
enum { DP_PRECISION_AUTO = 0, DP_PRECISION_F32 = 1, DP_PRECISION_F16 = 2 };
enum { DP_MATVEC_AUTO = 0, DP_MATVEC_F32 = 1, DP_MATVEC_Q8 = 2 };
/* "--matvec-input" values: "q8", "f32"; DP_ERR_INVALID_ARG naming them otherwise. */
dp_status dp_parse_matvec_input(const char *s, int *mode);
/* The values as the CLI and manifests write them: "fused" (alias "fused_q4k"), "dequant"
 * (alias "dequant_f16", which also sets *precision to DP_PRECISION_F16 when precision is not
 * NULL); "f16", "f32". DP_ERR_INVALID_ARG naming the accepted values otherwise. */
dp_status dp_parse_q4k_matmul(const char *s, int *mode, int *precision);
dp_status dp_parse_compute_precision(const char *s, int *precision);

/* path: an RDRR directory (manifest.json), an HF directory (config.json + safetensors) or a
 * GGUF file. Opens the GPU, uploads every weight tensor (bounded staging, no full copy in RAM). */
dp_status dp_model_load(const char *path, const dp_load_options *opt, dp_model **out);
void dp_model_free(dp_model *m);

/* ---- resumable model loading ----
 * The model's files stay wherever the host has them (a local folder, HTTP ranges, the
 * browser's OPFS): the loader asks for byte ranges of named files and the host answers each
 * request, when it can, with exactly those bytes. No call waits for anything; one request is
 * open at a time.
 *   dp_load *l;  dp_load_request r;
 *   dp_load_begin(NULL, &opt, &l);                       // NULL: the files are the host's
 *   while (dp_load_next(l, &r)) {
 *     if (r.drain) { wait until the GPU took the queued writes; continue; }  // natively dp_load_drain
 *     read r.length bytes at r.offset of file r.file (r.whole: the whole file);
 *     dp_load_supply(l, bytes, n);                        // or dp_load_supply(l, NULL, 0): absent
 *   }
 *   dp_load_finish(l, &m);
 * Requests, in order: "manifest.json" (whole; the model must be RDRR), "tokenizer.json" and
 * "tokenizer_config.json" (whole, optional: a model may have none), then ranges of the shards
 * ("shard_00000.bin", ...) of at most 4 MiB, tensor by tensor (no shard is ever held whole:
 * host memory stays a few MiB whatever the model's size), with a drain request after every
 * 64 MiB of GPU writes. The host checks each shard's SHA-256 (the manifest's "sha256") as it
 * fetches it: the loader sees only pieces. dp_model_load is the same loop over a local model
 * (any kind: its bytes are read by the loader itself; only drains are asked for). */
typedef struct dp_load dp_load;
#define DP_LOAD_WHOLE UINT64_MAX
typedef struct dp_load_request {
  const char *file;     /* a file name inside the model's folder (valid until the next call) */
  uint64_t offset;      /* first byte wanted */
  uint64_t length;      /* bytes wanted; DP_LOAD_WHOLE: the whole file (then whole = 1) */
  int whole;            /* 1: the whole file, of any size */
  int optional;         /* 1: the file may be absent: answer dp_load_supply(l, NULL, 0) */
  int drain;            /* 1: not a read: let the GPU take the queued uploads, then ask again */
} dp_load_request;
/* path: a local model (as dp_model_load), or NULL / "" for a model whose files the host
 * supplies. Opens the GPU (opt->adapter); nothing is read yet. opt (may be NULL) is read until
 * dp_load_finish: keep it (and its kernels) alive until then. */
dp_status dp_load_begin(const char *path, const dp_load_options *opt, dp_load **out);
/* 1 and *r: what the loader needs next; 0: everything is loaded (dp_load_finish). Runs the
 * uploads whose bytes are at hand first. On a failure it returns 0 and dp_load_finish reports
 * the error. */
int dp_load_next(dp_load *l, dp_load_request *r);
/* Answer the open request: n bytes at data (n must equal its length; for a whole file, the
 * file's size), or data NULL and n 0 for an optional file that does not exist. */
dp_status dp_load_supply(dp_load *l, const void *data, uint64_t n);
/* Native hosts: answer a drain request by waiting for the GPU (blocks). */
dp_status dp_load_drain(dp_load *l);
/* Stored weight bytes uploaded so far and in all (0 / 0 until the manifest is in). */
void dp_load_progress(const dp_load *l, uint64_t *done, uint64_t *total);
/* The loaded model (after dp_load_next said 0), or the error that stopped loading; frees l
 * either way. Before the end: DP_ERR_CANCELLED, nothing kept (an abandoned load). */
dp_status dp_load_finish(dp_load *l, dp_model **out);

/* Everything dp_model_load checks that needs no GPU: the file opens (ranges, tensor bounds),
 * every tensor the architecture uses exists with its shape, the tokenizer loads. */
dp_status dp_model_check(const char *path);

typedef struct dp_model_info {
  const char *arch;          /* "llama", "mistral", "qwen3", "gemma3", ... */
  const char *source_kind;   /* "rdrr", "hf", "gguf" */
  const char *adapter;       /* GPU adapter description */
  int n_layers, d_model, n_heads, n_kv_heads, head_dim, vocab_size, max_context;
  int bos_id, eos_id;        /* -1 if none (the tokenizer's, else the config's) */
  int add_bos;               /* the tokenizer settings ask for a BOS before a prompt */
  const int32_t *eog_ids;    /* every end-of-generation id (generation stops at them), n_eog */
  int n_eog;
  int has_tokenizer;
  uint64_t weight_bytes;     /* bytes uploaded to the GPU */
  /* the overrides in force ("fused"/"dequant", "f32"/"f16") and where each came from: "flag"
   * (dp_load_options), "manifest hint", "default", or for f16 on an adapter without
   * shader-f16 "fallback: no shader-f16" */
  const char *q4k_matmul, *q4k_matmul_from, *compute_precision, *compute_precision_from;
  const char *matvec_input;  /* "q8" when decode products read int8 input on this adapter, else "f32" */
} dp_model_info;
dp_status dp_model_get_info(const dp_model *m, dp_model_info *info);

/* Tokenizer access (fails with DP_ERR_UNSUPPORTED when the model has no tokenizer).
 * dp_tokenize writes at most cap ids and sets *n to the full count (call with cap 0 to size the
 * array). Special tokens written in the text ("<|eot_id|>") are parsed; add_bos: -1 as the
 * tokenizer's settings say, 0 no, 1 yes; never two BOS (none is added to text starting with it). */
dp_status dp_tokenize(dp_model *m, const char *text, int add_bos, int32_t *ids, size_t cap, size_t *n);
/* The text token `id` stands for inside a decoded text (e.g. to print the prompt as fed,
 * "415 -> ' The'"): raw bytes (a byte token may be part of a UTF-8 character), SentencePiece's
 * U+2581 as a space, special tokens as written ("<s>"). Writes at most cap bytes including a
 * terminating NUL (when cap > 0) and sets *len to the full byte count (without the NUL; a piece
 * may contain a 0 byte). Fails with DP_ERR_INVALID_ARG for an id outside the vocabulary. */
dp_status dp_token_piece(const dp_model *m, int32_t id, char *buf, size_t cap, size_t *len);
/* Render a chat conversation with the model's chat template (free with dp_string_free): a
 * known family's built-in renderer, else the template itself through the Jinja-subset
 * interpreter. DP_ERR_NOT_FOUND when the model ships no template; a template that cannot be
 * rendered fails with a message naming the line (DP_ERR_UNSUPPORTED: a construct outside the
 * subset; DP_ERR_FORMAT: a syntax error; DP_ERR_INVALID_ARG: its raise_exception, e.g. roles
 * that do not alternate). Feed the text to dp_generate / dp_tokenize_prompt. */
typedef struct dp_chat_message { const char *role, *content; } dp_chat_message;
dp_status dp_chat_format(dp_model *m, const dp_chat_message *msgs, size_t n, int add_generation_prompt, char **out);
void dp_string_free(char *s);

/* ---- sessions ---- */
typedef struct dp_session_options {
  int context_length;   /* 0 = the model's maximum position count, at most 4096 */
  int steps_per_submit; /* decode steps recorded per GPU submit, ids read back in batches (0 = 8) */
} dp_session_options;
dp_status dp_session_create(dp_model *m, const dp_session_options *opt, dp_session **out);
void dp_session_free(dp_session *s);
/* Forget the conversation (KV cache position back to 0). */
void dp_session_reset(dp_session *s);
/* Request a stop; generation returns DP_ERR_CANCELLED after the current batch. */
void dp_session_cancel(dp_session *s);
int dp_session_position(const dp_session *s);   /* tokens held in the KV cache */
int dp_session_context_length(const dp_session *s);

/* ---- generation ---- */
typedef struct dp_sampling {
  float temperature;     /* 0 = greedy (argmax) */
  int top_k;             /* 0 = off */
  float top_p;           /* 1 = off */
  float min_p;           /* 0 = off */
  float repeat_penalty;  /* 1 = off; logits > 0 divided by it, < 0 multiplied */
  int repeat_last_n;     /* window of recent tokens the penalty looks at (0 = 64) */
  uint64_t seed;
} dp_sampling;

typedef struct dp_generate_options {
  int max_tokens;            /* tokens to generate at most (0 = until EOS or a full context,
                                which then ends generation with DP_OK and stop_reason 4) */
  dp_sampling sampling;
  int add_bos;               /* -1 = as the tokenizer says, 0 no, 1 yes */
  const char *const *stop;   /* stop strings (not emitted), n_stop of them */
  size_t n_stop;
  int ignore_eos;            /* 1: never stop on EOS (EOS ids are never sampled) */
} dp_generate_options;
dp_generate_options dp_generate_defaults(void);

/* Streamed output, called once per generated token: `text` is the next piece of final text
 * (may be empty when held back for a stop-string check or an incomplete UTF-8 sequence, and
 * for special tokens such as EOS), `token` the id just generated; a last call with token -1
 * delivers text held back until the end. Text is not NUL-terminated at len.
 * Return nonzero to stop (the call then returns DP_OK, not an error). */
typedef int (*dp_token_fn)(void *user, int32_t token, const char *text, size_t len);

typedef struct dp_generate_stats {
  int n_prompt, n_generated;
  double prefill_ms, decode_ms, ttft_ms;  /* ttft: from the call to the first token */
  int stop_reason;                        /* 0 max_tokens, 1 eos, 2 stop string, 3 callback,
                                             4 context full (max_tokens 0: not an error) */
} dp_generate_stats;

/* Tokenize `prompt` (dp_tokenize_prompt), append it to the session's context, generate; blocks
 * until the end (start, then wait + resume while pending, then finish: src/api/native.c). */
dp_status dp_generate(dp_session *s, const char *prompt, const dp_generate_options *o,
                      dp_token_fn cb, void *user, dp_generate_stats *stats);
/* The same from token ids (nothing added). */
dp_status dp_generate_ids(dp_session *s, const int32_t *ids, size_t n, const dp_generate_options *o,
                          dp_token_fn cb, void *user, dp_generate_stats *stats);
/* ---- resumable generation ----
 *   dp_gen *g;
 *   dp_gen_start(s, "The jury said", &o, on_token, user, &g);  // prefill submitted
 *   while (dp_gen_pending(g)) { dp_gen_wait(g); dp_gen_resume(g); } // == dp_generate
 *   dp_gen_finish(g, &stats);
 * The token callback runs inside dp_gen_resume, with the same pieces, in the same order, as
 * from dp_generate; output (greedy ids, text, stop strings, stats) is identical. A session
 * has at most one generation in progress; sessions of one model may interleave freely. */
typedef struct dp_gen dp_gen;
/* Tokenize `prompt` (as dp_generate), submit its prefill and return; nothing is awaited.
 * Errors found before any work (options, context room) come back here. *o is copied, but its
 * stop strings are not: they (and user) must stay valid until dp_gen_finish. */
dp_status dp_gen_start(dp_session *s, const char *prompt, const dp_generate_options *o, dp_token_fn cb,
                       void *user, dp_gen **out);
/* The same from token ids (nothing added). */
dp_status dp_gen_start_ids(dp_session *s, const int32_t *ids, size_t n, const dp_generate_options *o,
                           dp_token_fn cb, void *user, dp_gen **out);
/* 1 while a GPU read-back is in flight (dp_gen_resume must follow its completion); 0 once
 * generation has ended (then dp_gen_finish). */
int dp_gen_pending(const dp_gen *g);
/* Never blocks: 1 when dp_gen_resume may be called (the read-back completed, or nothing is
 * pending). Natively it lets the GPU runtime process its events; a server polls its sessions. */
int dp_gen_poll(dp_gen *g);
/* Native hosts only: block until dp_gen_poll would say 1. */
dp_status dp_gen_wait(dp_gen *g);
/* After the read-back completed: deliver its tokens' text through the callback, then submit
 * the next batch (or end: EOS, max_tokens, a stop string, the callback's stop, cancel, a full
 * context). Returns the error that ended generation, if any (DP_ERR_CANCELLED after
 * dp_session_cancel, a full context with max_tokens > 0, ...); a call before the read-back
 * completed is DP_ERR_INVALID_ARG and changes nothing. */
dp_status dp_gen_resume(dp_gen *g);
/* Batches ahead, for a generation stepped alone by dp_gen_resume: each next batch of decode
 * steps is recorded and submitted while the one before runs, so the host's recording overlaps
 * the GPU's work (docs/runtime.md); a stop drops it, and the output is unchanged. dp_generate
 * turns it on; a generation with it on is refused by dp_gen_resume_batch. Takes effect from the
 * next resume; NULL or an ended generation: nothing. */
void dp_gen_set_ahead(dp_gen *g, int on);
/* Continuous batching: resume several generations (of sessions of ONE model) whose
 * read-backs have completed, or that have nothing pending, in one GPU step. For each gens[i]
 * its tokens are delivered through its callback and st[i] gets exactly what
 * dp_gen_resume(gens[i]) would return (its end; DP_ERR_INVALID_ARG and nothing changed when
 * its read-back has not completed yet). Then the next decode step of every one still running
 * is recorded as ONE forward pass with one row per generation (matrix products with M = rows,
 * attention per session against its own KV cache and position), one sampling per row with its
 * own parameters, ONE submit and ONE read-back shared by all: afterwards each is pending
 * (dp_gen_poll / dp_gen_wait per generation; when one of the step is ready, all are). Each
 * generation's output is identical to resuming it alone -- the batched kernels reduce every
 * row as a single-row step does, whoever else is in the batch. A batched generation decodes
 * one token per submit; it may later be resumed alone (dp_gen_resume) or finished
 * (dp_gen_finish drops only its row). *rows (may be NULL) = generations stepped (0 when none
 * continued): the batch size of this step. Returns DP_ERR_INVALID_ARG for NULL arguments,
 * repeated generations or generations of different models (nothing done), or the error of a
 * failed step (then also in st[] of, and ending, each generation of the step). */
dp_status dp_gen_resume_batch(dp_gen **gens, size_t n, dp_status *st, size_t *rows);
/* Release g; returns how generation ended (as dp_generate would) and its stats (may be NULL).
 * Before the end, the batch in flight is dropped, held text is flushed through the callback,
 * and the result is DP_ERR_CANCELLED; the session keeps every token accepted so far. */
dp_status dp_gen_finish(dp_gen *g, dp_generate_stats *stats);

/* Exactly the ids dp_generate(s, prompt, o, ...) feeds: dp_tokenize with o->add_bos (o NULL:
 * the defaults, -1), and no BOS once the session holds tokens. Same cap / *n contract. */
dp_status dp_tokenize_prompt(dp_session *s, const char *prompt, const dp_generate_options *o, int32_t *ids, size_t cap,
                             size_t *n);

/* ---- logits (tests, `doppler logits`, perplexity) ---- */
/* Feed n ids at the current position; write the logits of every one of them to
 * logits[n][vocab] (may be NULL to only fill the cache). */
dp_status dp_session_eval(dp_session *s, const int32_t *ids, size_t n, float *logits);
/* Greedy continuation of exactly n tokens through the KV cache, EOS never chosen (where it has
 * the top logit the best other token is taken). ids[n]; logits[n][vocab] (may be NULL): the
 * raw logits of each step. The session must hold at least one token. */
dp_status dp_session_greedy(dp_session *s, size_t n, int32_t *ids, float *logits);
/* The same without waiting (the browser's dp_session_eval): feed 1..dp_session_logits_rows(s)
 * ids and start the read-back of their logits; once dp_logits_poll says 1 (natively after
 * dp_logits_wait; in the browser the mapAsync promise), dp_logits_finish writes logits[n][vocab]
 * and releases r. The session holds the ids from the start on, as after dp_session_eval;
 * dp_logits_finish(r, NULL) drops the logits. */
typedef struct dp_logits dp_logits;
int dp_session_logits_rows(const dp_session *s);
dp_status dp_logits_start(dp_session *s, const int32_t *ids, size_t n, dp_logits **out);
int dp_logits_poll(dp_logits *r);
dp_status dp_logits_wait(dp_logits *r);   /* native hosts only: blocks */
dp_status dp_logits_finish(dp_logits *r, float *logits);
/* Negative log-likelihood of ids[1..n-1] given their prefixes, scored from an empty cache
 * (the session is reset first and after). nll[n-1] (natural log), computed on the GPU. */
dp_status dp_session_score(dp_session *s, const int32_t *ids, size_t n, double *nll);

/* ---- statistics and benchmarks (`doppler bench`, docs/bench.md) ---- */
typedef struct dp_model_stats {
  uint64_t dispatches;       /* GPU dispatches recorded since the model was loaded */
} dp_model_stats;
dp_status dp_model_get_stats(const dp_model *m, dp_model_stats *st);

typedef struct dp_bench_ceilings {
  double gbps;               /* memory read bandwidth, GB/s (1e9 bytes/s) */
  double tflops;             /* FP32 FMA throughput, TFLOP/s */
} dp_bench_ceilings;
/* Measure both on the model's adapter with the probe kernels (src/kernels/probe.wgsl: a vec4
 * read reduction over a buffer larger than a GPU's L2, and FMA chains), each result checked. */
dp_status dp_bench_probe(dp_model *m, dp_bench_ceilings *out);

typedef struct dp_bench_model {
  char backend[16];          /* the adapter's backend: "vulkan", ... */
  char quant[48];            /* matrix types, most bytes first: "f16", "q4_k/q6_k" */
  uint64_t n_params;         /* parameters (tied embeddings counted once) */
  uint64_t size_bytes;       /* weight bytes on the GPU (dp_model_info.weight_bytes) */
  uint64_t token_bytes;      /* weight bytes one decode step reads: layers, final norm, LM head, one embedding row */
} dp_bench_model;
dp_status dp_bench_model_info(const dp_model *m, dp_bench_model *out);

#define DP_BENCH_MAX_REPS 100
#define DP_BENCH_MAX_KERNELS 64
typedef struct dp_bench_test {
  int n_prompt;              /* pp: time a prefill of n_prompt tokens (then n_gen = 0) */
  int n_gen;                 /* tg: time n_gen decoded tokens (then n_prompt = 0) */
  int n_depth;               /* tokens prefilled (untimed) before the timed part */
  int reps;                  /* timed repetitions, 1..DP_BENCH_MAX_REPS (one warm-up run before) */
  int steps;                 /* decode steps per submit (0 = the session default, 8) */
  int profile;               /* 1: one more run with a GPU timestamp around every dispatch */
} dp_bench_test;
typedef struct dp_bench_kernel_time {
  char kernel[64];           /* "name:entry" */
  uint64_t calls;
  double us;                 /* GPU time summed over the profiled run */
} dp_bench_kernel_time;
typedef struct dp_bench_result {
  int n_samples;
  double samples_ts[DP_BENCH_MAX_REPS]; /* tokens/s of each repetition */
  double avg_ts, stddev_ts;  /* mean and sample standard deviation of samples_ts */
  double dispatches_per_token; /* dispatches of a timed run / its tokens */
  double bytes_per_token;    /* tg: token_bytes + K/V bytes read at the timed positions (mean); pp: 0 */
  double flops_per_token;    /* pp: matmul and attention FLOPs of the prefill / n_prompt; tg: 0 */
  double bw_fraction;        /* tg: bytes_per_token * avg_ts / ceiling; -1 for pp or no ceiling */
  double flops_fraction;     /* pp: flops_per_token * avg_ts / ceiling; -1 for tg or no ceiling */
  double host_us_per_token;  /* tg: µs a token the host spends recording and submitting decode batches, while
                              * the GPU waits for them (mean over the timed runs); -1 for pp */
  int n_profile;             /* kernels in profile; -1: the adapter has no timestamp-query */
  int profile_inpass;        /* 1: timestamps inside one pass as the timed runs dispatch (DOPPLER_PROFILE_INPASS=1,
                              * docs/bench.md); 0: a timestamped pass per dispatch (each carries a pass's cost) */
  dp_bench_kernel_time profile[DP_BENCH_MAX_KERNELS]; /* largest time first */
} dp_bench_result;
/* Run one test: a fresh session sized to fit, the warm-up, then t->reps timed runs (the
 * session reset before each; prompt ids cycle through the vocabulary; decoding is greedy
 * with EOS ignored). c may be NULL (fractions -1). */
dp_status dp_bench_run(dp_model *m, const dp_bench_test *t, const dp_bench_ceilings *c, dp_bench_result *r);

/* Matrix products y[m, n] = x[m, k] . W[n, k]^T timed by the op layer, one call per product. */
typedef struct dp_bench_kernel {
  const char *adapter;       /* the adapter's description */
  const char *type;          /* weight type: "f16", "bf16", "q8_0", "q4_k", "q6_k", "mxfp4" */
  int m, n, k;
  int reps;                  /* timed dispatches (fewer on slow adapters) */
  double us;                 /* time per product (median of the batches) */
  double gbps;               /* weight bytes / time */
  double tflops;             /* 2 m n k / time */
  const char *skipped;       /* NULL, or why this product was not run (then no figures) */
  const char *input;         /* "f32": the f32-input kernels; "q8-fused": matvec input q8 (m <= 4 on GPUs with
                              * dot4I8Packed, Q4_K / Q6_K / Q8_0) quantized inside the product
                              * (matmul_gemv_i8_fused); "q8": quantize_x + matmul_gemv_i8, both timed (where
                              * the fused one does not apply, or DOPPLER_Q8_FUSED=0) */
} dp_bench_kernel;
typedef struct dp_bench_kernels_options {
  const char *adapter;       /* as dp_load_options.adapter */
  int n, k;                  /* 0: 4096, 14336 (Llama-3-8B ffn_down, ../shared/docs/anchors.md) */
  const int *ms; int n_ms;   /* rows of x; NULL: 1, 8, 512 */
  const char *const *types; int n_types; /* NULL: all six above */
  int matvec_input;          /* DP_MATVEC_AUTO (0): m <= 4 with f32 input, then q8 where it applies;
                              * DP_MATVEC_F32 / DP_MATVEC_Q8: only that input (q8: the other products f32) */
} dp_bench_kernels_options;
/* cb gets each product as it is measured; a nonzero return stops (DP_OK). */
dp_status dp_bench_kernels(const dp_bench_kernels_options *o, int (*cb)(void *user, const dp_bench_kernel *r), void *user);
/* The op layer's kernel variants (docs/kernels.md), in table order: cb(user, NAME, OP,
 * CONDITION) for each; a nonzero return stops (DP_OK). */
dp_status dp_kernel_list(int (*cb)(void *user, const char *name, const char *op, const char *condition), void *user);
/* The complete WGSL module of variant NAME as the ops compile it on adapter (as
 * dp_load_options.adapter), in *wgsl (free with dp_string_free). DP_ERR_NOT_FOUND for an
 * unknown NAME, DP_ERR_UNSUPPORTED where the adapter cannot run it. */
dp_status dp_kernel_dump(const char *adapter, const char *name, char **wgsl);
/* The kernel variants m has dispatched so far, in table order: cb(user, NAME, OP, dispatches)
 * for each used one (`--verbose` of run and logits). */
dp_status dp_model_kernels_used(const dp_model *m, int (*cb)(void *user, const char *name, const char *op, uint64_t n),
                                void *user);

#ifdef __cplusplus
}
#endif
#endif
