/* cmd_logits.c -- `doppler logits MODEL --ids 1,2,3 [--decode N] --out FILE.safetensors [--cpu]`:
 * the logits of every given position (`logits` F32 [T, V], nothing added to the ids), and with
 * --decode N the greedy continuation of exactly N tokens through the KV cache with
 * end-of-sequence never chosen (`gen_ids` I32 [N]) and the raw logits each was chosen from
 * (`gen_logits` F32 [N, V]) -- the names and meanings of the golden fixtures. --cpu runs the
 * CPU reference (src/ref/forward.h) instead of the GPU. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/file.h"
#include "doppler.h"
#include "format/model_file.h"
#include "format/safetensors.h"
#include "ref/forward.h"

/* Write a safetensors file: the header (format/safetensors.h) + the tensors back to back. */
static dp_status write_safetensors(const char *path, const dp_st_entry *e, const void *const *data, int n) {
  dp_buf h = {0};
  dp_status st = dp_safetensors_header(e, (size_t)n, 0, &h);
  if (st) { dp_buf_free(&h); return st; }
  dp_atomic_file af;
  if ((st = dp_atomic_open(&af, path))) { dp_buf_free(&h); return st; }
  st = dp_atomic_write(&af, h.data, h.len);
  for (int i = 0; !st && i < n; i++) st = dp_atomic_write(&af, data[i], (size_t)e[i].nbytes);
  dp_buf_free(&h);
  if (st) { dp_atomic_abort(&af); return st; }
  return dp_atomic_commit(&af);
}

static int parse_ids(const char *s, int32_t **out, size_t *n) {
  size_t cap = 16;
  int32_t *v = malloc(cap * sizeof *v);
  *n = 0;
  while (v && *s) {
    char *end;
    long x = strtol(s, &end, 10);
    if (end == s || x < 0 || x > 0x7fffffff) break;
    if (*n == cap) {
      int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
      if (!nv) break;
      v = nv;
    }
    v[(*n)++] = (int32_t)x;
    s = end;
    while (*s == ',' || *s == ' ') s++;
  }
  if (!v || *s || !*n) { free(v); return -1; }
  *out = v;
  return 0;
}

static dp_status run_cpu(const char *model, const int32_t *ids, size_t T, int N, float *logits, int32_t *gen, float *gl,
                         int *vocab) {
  dp_model_file *mf = NULL;
  dp_ref_model *rm = NULL;
  dp_ref_state *rs = NULL;
  dp_status st = dp_model_file_open(model, &mf);
  if (!st) st = dp_ref_model_load(mf, &rm);
  if (!st) st = dp_ref_state_new(rm, (int)T + N + 1, &rs);
  if (!st) {
    *vocab = dp_ref_model_plan(rm)->vocab_size;
    if (N > 0) st = dp_ref_greedy(rm, rs, ids, (int)T, N, 1, logits, gen, gl);
    else st = dp_ref_forward(rm, rs, ids, (int)T, logits, NULL);
  }
  dp_ref_state_free(rs);
  dp_ref_model_free(rm);
  dp_model_file_close(mf);
  return st;
}

static void usage(FILE *f) {
  fprintf(f, "usage: doppler logits MODEL --ids 1,2,3 [--decode N] --out FILE.safetensors [--cpu] [--adapter NAME] [--kernel NAME=FILE]\n"
             "       [--q4k-matmul fused|dequant] [--compute-precision f16|f32] [--matvec-input q8|f32] [--expert-budget N|SIZE] [--verbose]\n"
             "Writes logits F32 [T,V] for the ids as given (no BOS added); with --decode N also the greedy\n"
             "continuation gen_ids I32 [N] (end-of-sequence never chosen) and gen_logits F32 [N,V].\n"
             "MODEL: an RDRR directory, an HF directory or a GGUF file. --cpu: the CPU reference.\n"
             CLI_OVERRIDE_HELP CLI_EXPERT_HELP
             "  --verbose            the Q4_K matmul and compute precision in force (and why), the kernel variants run\n");
}

int cmd_logits(int argc, char **argv) {
  const char *model = NULL, *ids_arg = NULL, *out = NULL;
  int N = 0, cpu = 0, npos = 0;
  cli_load ld = {0};
  cli_opt more[CLI_LOAD_OPTS];
  size_t n_more = cli_load_opts(&ld, more);
  int verbose = 0;
  const cli_opt opts[] = {
    {"--ids", NULL, CLI_STR, &ids_arg, 0, 0, 0, NULL},
    {"--decode", NULL, CLI_INT, &N, 0, 1 << 20, 0, NULL},
    {"--out", "-o", CLI_STR, &out, 0, 0, 0, NULL},
    {"--verbose", NULL, CLI_BOOL, &verbose, 0, 0, 0, NULL},
    {"--cpu", NULL, CLI_BOOL, &cpu, 0, 0, 0, NULL},
  };
  cli_spec sp = {"logits", opts, sizeof opts / sizeof *opts, more, n_more, &model, 1, &npos, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  if (!model || !ids_arg || !out) return cli_usage_error("logits", "%s is required", !model ? "MODEL" : !ids_arg ? "--ids" : "--out");
  int32_t *ids;
  size_t T;
  if (parse_ids(ids_arg, &ids, &T))
    return cli_usage_error("logits", "--ids: '%s' is not a list of comma-separated ids in [0, 2147483647]", ids_arg);
  dp_model *m = NULL;
  dp_session *s = NULL;
  int V = 0;
  float *logits = NULL, *gl = NULL;
  int32_t *gen = NULL;
  dp_status st = DP_OK;
  dp_model_info mi;
  if (!cpu) {
    dp_session_options so = {0, 0};
    if ((rc = cli_load_model("logits", &ld, model, &m))) goto done;
    st = dp_model_get_info(m, &mi);
    if (!st) V = mi.vocab_size;
    if (!st) st = dp_session_create(m, &so, &s);
  } else {
    dp_model_file *mf = NULL;
    st = dp_model_file_open(model, &mf);
    if (!st) V = dp_model_file_hparams(mf)->vocab_size;
    dp_model_file_close(mf);
  }
  for (size_t i = 0; !st && i < T; i++)
    if (ids[i] >= V) {
      rc = cli_usage_error("logits", "--ids: id %d is out of range [0, %d] (the model's vocabulary)", (int)ids[i], V - 1);
      goto done;
    }
  if (!st) {
    logits = malloc(T * (size_t)V * sizeof *logits);
    gl = malloc(((size_t)N + 1) * (size_t)V * sizeof *gl);
    gen = malloc(((size_t)N + 1) * sizeof *gen);
    if (!logits || !gl || !gen) st = dp_error(DP_ERR_NOMEM, "logits: out of memory for %zu x %d floats", T, V);
  }
  if (!st) {
    if (cpu) st = run_cpu(model, ids, T, N, logits, gen, gl, &V);
    else {
      st = dp_session_eval(s, ids, T, logits);
      if (!st && N > 0) st = dp_session_greedy(s, (size_t)N, gen, gl);
    }
  }
  if (!st) {
    uint64_t s_logits[2] = {T, (uint64_t)V}, s_ids[1] = {(uint64_t)N}, s_gl[2] = {(uint64_t)N, (uint64_t)V};
    dp_st_entry e[3] = {
        {"logits", DP_F32, 2, s_logits, T * (uint64_t)V * 4},
        {"gen_ids", DP_I32, 1, s_ids, (uint64_t)N * 4},
        {"gen_logits", DP_F32, 2, s_gl, (uint64_t)N * (uint64_t)V * 4},
    };
    const void *data[3] = {logits, gen, gl};
    st = write_safetensors(out, e, data, N > 0 ? 3 : 1);
    if (!st) fprintf(stderr, "wrote %s: logits [%zu, %d]%s\n", out, T, V, N > 0 ? ", gen_ids, gen_logits" : "");
  }
  if (!st && verbose && m) cli_print_overrides("logits", m);
  if (!st && verbose && m) cli_print_kernels("logits", m);
  rc = st ? cli_fail("logits") : 0;
done:
  free(ids);
  free(logits);
  free(gl);
  free(gen);
  dp_session_free(s);
  dp_model_free(m);
  cli_load_free(&ld);
  return rc;
}
