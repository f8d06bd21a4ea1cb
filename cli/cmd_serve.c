/* cmd_serve.c -- `doppler serve [MODEL] [flags]`: the OpenAI-compatible HTTP server
 * (server/, docs/server.md). Parses the flags, listens (the `listening on` line comes before
 * the model loads; /health says 503 meanwhile), loads the model, serves until SIGTERM/SIGINT
 * has drained the requests in flight. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "server/server.h"

static void usage(FILE *f) {
  fprintf(f, "usage: doppler serve [MODEL] [flags]\n"
             "An OpenAI-compatible HTTP server: POST /v1/chat/completions, /v1/completions (\"stream\": true for\n"
             "server-sent events), GET /v1/models, /health, /metrics; the --web directory at / (docs/server.md).\n"
             "MODEL: as `doppler run` (default " CLI_DEFAULT_MODEL ")\n"
             "  --host ADDR          address to listen on (default 127.0.0.1; 0.0.0.0 = every interface)\n"
             "  --port N             port, 0..65535 (default 8080; 0 = a free port, printed)\n"
             "  -np, --parallel N    requests generating at once, one session each, 1..256 (default 4)\n"
             "  -c, --ctx N          context length of each session (default: the model's, at most 4096)\n"
             "  --queue N            requests waiting for a slot at most; more get 429 (default 4 x --parallel)\n"
             "  --api-key KEY        require `Authorization: Bearer KEY` on /v1/* and /metrics (or $DOPPLER_API_KEY)\n"
             "  --alias NAME         the model's id in /v1/models and requests (default: MODEL's file name)\n"
             "  --web DIR            serve DIR's files at / (default: the web/ folder beside the executable, if any)\n"
             "  --adapter NAME       lavapipe | swiftshader | default | ICD.json (or $DOPPLER_ADAPTER)\n"
             CLI_OVERRIDE_HELP);
}

/* The web/ folder of the demo page beside the executable (installed or in the source tree). */
static const char *default_web_dir(void) {
  static char path[PATH_MAX + 64];
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return NULL;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (slash) *slash = 0;
  const char *rel[] = {"../share/doppler/web", "../web"};
  for (int i = 0; i < 2; i++) {
    snprintf(path, sizeof path, "%s/%s/index.html", exe, rel[i]);
    if (access(path, R_OK) == 0) {
      snprintf(path, sizeof path, "%s/%s", exe, rel[i]);
      return path;
    }
  }
  return NULL;
}

/* "models/doppler-tiny-f16/" -> "doppler-tiny-f16" */
static void model_name(const char *path, char *out, size_t cap) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') n--;
  size_t b = n;
  while (b && path[b - 1] != '/') b--;
  snprintf(out, cap, "%.*s", (int)(n - b), path + b);
}

int cmd_serve(int argc, char **argv) {
  const char *model = NULL, *host = "127.0.0.1", *api_key = NULL, *alias = NULL, *web = NULL, *adapter = NULL;
  int port = 8080, parallel = 4, ctx = 0, queue = -1, npos = 0;
  cli_overrides ov = {0};
  const cli_opt opts[] = {
    {"--host", NULL, CLI_STR, &host, 0, 0, 0, NULL},
    {"--port", NULL, CLI_INT, &port, 0, 65535, 0, NULL},
    {"--parallel", "-np", CLI_INT, &parallel, 1, 256, 0, NULL},
    {"--ctx", "-c", CLI_INT, &ctx, 1, 1 << 20, 0, NULL},
    {"--queue", NULL, CLI_INT, &queue, 0, 65536, 0, NULL},
    {"--api-key", NULL, CLI_STR, &api_key, 0, 0, 0, NULL},
    {"--alias", NULL, CLI_STR, &alias, 0, 0, 0, NULL},
    {"--web", NULL, CLI_STR, &web, 0, 0, 0, NULL},
    {"--adapter", NULL, CLI_STR, &adapter, 0, 0, 0, NULL},
    {"--q4k-matmul", NULL, CLI_CALL, &ov, 0, 0, 0, cli_q4k_opt},
    {"--compute-precision", NULL, CLI_CALL, &ov, 0, 0, 0, cli_precision_opt},
    {"--matvec-input", NULL, CLI_CALL, &ov, 0, 0, 0, cli_matvec_opt},
  };
  cli_spec sp = {"serve", opts, sizeof opts / sizeof *opts, NULL, 0, &model, 1, &npos, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  if (!api_key && getenv("DOPPLER_API_KEY") && getenv("DOPPLER_API_KEY")[0]) api_key = getenv("DOPPLER_API_KEY");
  if (api_key && !api_key[0]) return cli_usage_error("serve", "--api-key: the key is empty");
  if (alias && !alias[0]) return cli_usage_error("serve", "--alias: the name is empty");
  if (queue < 0) queue = 4 * parallel;
  struct stat st;
  if (web && (stat(web, &st) || !S_ISDIR(st.st_mode))) {
    fprintf(stderr, "doppler serve: --web: %s: not a directory\n", web);
    return 1;
  }
  if (!web) web = default_web_dir();
  if (!(model = cli_model_or_default("serve", model))) return 1;
  char name[256];
  model_name(model, name, sizeof name);

  srv_options so = {host, port, alias ? alias : name, parallel, ctx, queue, api_key, web};
  signal(SIGPIPE, SIG_IGN);
  cli_on_stop_signals(srv_on_signal);
  srv *S = srv_open(&so); /* prints `listening on http://HOST:PORT` */
  if (!S) return 1;
  dp_load_options lo = {.adapter = cli_adapter(adapter)};
  cli_overrides_apply(&ov, &lo);
  dp_model *m = NULL;
  dp_model_info mi;
  if (dp_model_load(model, &lo, &m) || dp_model_get_info(m, &mi)) rc = cli_fail("serve");
  else if (!mi.has_tokenizer) rc = 1, fprintf(stderr, "doppler serve: %s has no tokenizer: the server takes text\n", model);
  else if (!(rc = cli_check_ctx("serve", m, ctx, 0)) && !srv_stop_requested()) rc = srv_serve(S, m);
  srv_close(S);
  dp_model_free(m);
  return rc;
}
