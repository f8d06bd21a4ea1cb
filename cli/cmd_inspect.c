/* cmd_inspect.c -- `doppler inspect MODEL [--json] [--verify]`: architecture, parameter count,
 * bytes per dtype, shards and tensors of an HF dir, GGUF file or RDRR dir (src/format/inspect.c).
 * --verify hashes every RDRR shard against the manifest first (opening checks sizes only;
 * hashes are otherwise checked as shards are first read). */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "core/buf.h"
#include "doppler_status.h"
#include "format/inspect.h"
#include "format/model_file.h"

int cmd_inspect(int argc, char **argv) {
  const char *path = NULL;
  int json = 0, verify = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--json")) json = 1;
    else if (!strcmp(argv[i], "--verify")) verify = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { printf("usage: doppler inspect MODEL [--json] [--verify]\n"); return 0; }
    else if (argv[i][0] == '-') { fprintf(stderr, "doppler inspect: unknown flag %s\n", argv[i]); return 2; }
    else if (!path) path = argv[i];
    else { fprintf(stderr, "usage: doppler inspect MODEL [--json] [--verify]\n"); return 2; }
  }
  if (!path) { fprintf(stderr, "usage: doppler inspect MODEL [--json] [--verify]\n"); return 2; }
  dp_model_file *mf;
  if (dp_model_file_open(path, &mf)) { fprintf(stderr, "doppler inspect: %s\n", dp_error_message()); return 1; }
  dp_buf b = {0};
  dp_status st = verify ? dp_model_file_verify(mf) : DP_OK;
  if (!st) st = dp_inspect(mf, json, &b);
  if (!st) fwrite(b.data, 1, b.len, stdout);
  else fprintf(stderr, "doppler inspect: %s\n", dp_error_message());
  dp_buf_free(&b);
  dp_model_file_close(mf);
  return st ? 1 : 0;
}
