/* forward.h -- the CPU reference forward pass of every supported architecture.
 *
 * Executes a dp_plan (model/plan.h) with f32 weights read through dp_model_file_read_f32 and
 * the CPU reference ops of kernels_ref.h (f32 storage, double accumulation). Meant to be read
 * like llama2.c's forward(), and used as the oracle for the GPU runtime, by the golden tests
 * and by `doppler logits --cpu` / perplexity on the CPU.
 *
 * Usage:
 *   dp_ref_model *m;  dp_ref_model_load(mf, &m);          all weights as f32 (RAM: 4 bytes/param)
 *   dp_ref_state *s;  dp_ref_state_new(m, 64, &s);         KV cache for up to 64 positions
 *   dp_ref_forward(m, s, ids, T, logits, NULL);            appends T tokens at positions pos..pos+T-1
 *   dp_ref_state_reset(s);                                 empty the cache (position 0)
 */
#ifndef DP_REF_FORWARD_H
#define DP_REF_FORWARD_H
#include <stddef.h>
#include <stdint.h>
#include "doppler_status.h"
#include "model/plan.h"

struct dp_model_file;
typedef struct dp_ref_model dp_ref_model;
typedef struct dp_ref_state dp_ref_state;

/* Build the plan from the file's hparams, check it against the file, read every weight as f32.
 * The model keeps no reference to mf after loading. */
dp_status dp_ref_model_load(struct dp_model_file *mf, dp_ref_model **out);
void dp_ref_model_free(dp_ref_model *m);
const dp_plan *dp_ref_model_plan(const dp_ref_model *m);

/* KV cache (full history, every layer) for positions 0..max_tokens-1, plus scratch. */
dp_status dp_ref_state_new(const dp_ref_model *m, int max_tokens, dp_ref_state **out);
void dp_ref_state_free(dp_ref_state *s);
void dp_ref_state_reset(dp_ref_state *s);
int dp_ref_state_pos(const dp_ref_state *s); /* tokens already in the cache */

/* Run T tokens at positions pos..pos+T-1 and append their keys/values to the cache.
 * logits: [T, vocab] or NULL. hidden: NULL, or n_layers+1 pointers, each [T, d_model], filled
 * with HF's output_hidden_states: hidden[0] the (scaled) embeddings, hidden[i] for
 * 0 < i < n_layers the output of the i-th layer (layers[i-1]), hidden[n_layers] the output
 * of the last layer after the final norm. Fails with
 * DP_ERR_CONTEXT_FULL when pos + T > max_tokens. */
dp_status dp_ref_forward(const dp_ref_model *m, dp_ref_state *s, const int32_t *ids, int T, float *logits,
                         float *const *hidden);

/* Greedy continuation exactly as the golden fixtures were made: the prompt in one pass
 * (prompt_logits [T, vocab] or NULL), then n_gen tokens through the KV cache. gen_ids [n_gen];
 * gen_logits [n_gen, vocab] or NULL: the raw logits each gen_ids[i] was chosen from (row 0 is
 * the last prompt row). With no_eos, the plan's end-of-sequence ids are never chosen (the best
 * other token is taken), as `min_new_tokens` does in HF. Starts from an empty cache. */
dp_status dp_ref_greedy(const dp_ref_model *m, dp_ref_state *s, const int32_t *prompt, int T, int n_gen, int no_eos,
                        float *prompt_logits, int32_t *gen_ids, float *gen_logits);

/* Perplexity windows as in ../shared/fixtures/README.md: window w is stream[w*ctx : w*ctx+ctx+1]
 * (shorter at the end), scored from an empty cache, predicting tokens 1..n-1 of the window.
 * Scores windows [0, max_windows) (max_windows <= 0: all). Adds the summed negative
 * log-likelihood (natural log) to *nll and the number of predictions to *count. s must hold
 * ctx+1 positions. */
dp_status dp_ref_perplexity(const dp_ref_model *m, dp_ref_state *s, const int32_t *stream, size_t n, int ctx,
                            int max_windows, double *nll, size_t *count);
#endif
