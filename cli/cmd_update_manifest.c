/* cmd_update_manifest.c -- `doppler update-manifest MODEL [--q4k-matmul fused|dequant]
 * [--compute-precision f16|f32] [--q4k-layout LAYOUT] [--dry-run] [--allow-unsafe]`: persist
 * kernel hints in an RDRR manifest without touching shards (src/tools/inspect.c). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "commands.h"
#include "core/buf.h"
#include "doppler_status.h"
#include "tools/inspect.h"

static void usage(FILE *f) {
  fputs("usage: doppler update-manifest MODEL [--q4k-matmul fused|dequant] [--compute-precision f16|f32]\n"
        "                                [--q4k-layout LAYOUT] [--dry-run] [--allow-unsafe]\n"
        "MODEL: an RDRR directory, or a file inside it (its manifest.json).\n", f);
}

int cmd_update_manifest(int argc, char **argv) {
  dp_manifest_edit e = {0};
  const char *dir = NULL;
  int npos = 0;
  const cli_opt opts[] = {
    {"--dry-run", NULL, CLI_BOOL, &e.dry_run, 0, 0, 0, NULL},
    {"--allow-unsafe", NULL, CLI_BOOL, &e.allow_unsafe, 0, 0, 0, NULL},
    {"--q4k-matmul", NULL, CLI_STR, &e.q4k_matmul, 0, 0, 0, NULL},
    {"--compute-precision", NULL, CLI_STR, &e.compute_precision, 0, 0, 0, NULL},
    {"--q4k-layout", NULL, CLI_STR, &e.q4k_layout, 0, 0, 0, NULL},
  };
  cli_spec sp = {"update-manifest", opts, sizeof opts / sizeof *opts, NULL, 0, &dir, 1, &npos, usage};
  int rc = cli_parse(&sp, argc, argv);
  if (rc >= 0) return rc;
  if (!dir) return cli_usage_error("update-manifest", "MODEL is required");
  struct stat sb;
  char parent[4096];
  const char *slash = strrchr(dir, '/');
  if (!stat(dir, &sb) && S_ISREG(sb.st_mode)) { /* a file inside the model directory (its manifest.json) */
    snprintf(parent, sizeof parent, "%.*s", slash ? (int)(slash > dir ? slash - dir : 1) : 1, slash ? dir : ".");
    dir = parent;
  }
  dp_buf r = {0};
  dp_status st = dp_manifest_update(dir, &e, &r);
  if (r.data) fputs(r.data, stdout);
  dp_buf_free(&r);
  if (st == DP_ERR_INVALID_ARG) { /* a bad flag value (the editor names it) */
    fprintf(stderr, "doppler update-manifest: %s\n", dp_error_message());
    return 2;
  }
  if (st) return cli_fail("update-manifest");
  if (e.dry_run) printf("(dry run: manifest not written)\n");
  return 0;
}
