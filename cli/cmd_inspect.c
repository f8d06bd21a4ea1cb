/* cmd_inspect.c -- `doppler inspect MODEL [--json] [--verify]`: architecture, parameter count,
 * bytes per dtype, shards and tensors of an HF dir, GGUF file or RDRR dir (src/tools/inspect.c).
 * --verify hashes every RDRR shard against the manifest first (opening checks sizes only;
 * hashes are otherwise checked as shards are first read). */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "core/buf.h"
#include "doppler_status.h"
#include "tools/inspect.h"
#include "format/model_file.h"

static void usage(FILE *f) {
  fprintf(f, "usage: doppler inspect MODEL [--json] [--verify]\n"
             "MODEL: an RDRR directory, an HF directory, a GGUF file, or a file inside a model directory.\n");
}

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  int json = 0, verify = 0, npos = 0;
  const cli_opt opts[] = {
    {"--json", NULL, CLI_BOOL, &json, 0, 0, 0, NULL},
    {"--verify", NULL, CLI_BOOL, &verify, 0, 0, 0, NULL},
  };
  cli_spec sp = {"inspect", opts, sizeof opts / sizeof *opts, NULL, 0, &path, 1, &npos, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  if (!path) return cli_usage_error("inspect", "MODEL is required");
  dp_model_file *mf;
  if (dp_model_file_open(path, &mf)) return cli_fail("inspect");
  dp_buf b = {0};
  dp_status st = verify ? dp_model_file_verify(mf) : DP_OK;
  if (!st) st = dp_inspect(mf, json, &b);
  if (!st) fwrite(b.data, 1, b.len, stdout);
  rc = st ? cli_fail("inspect") : 0;
  dp_buf_free(&b);
  dp_model_file_close(mf);
  return rc;
}
