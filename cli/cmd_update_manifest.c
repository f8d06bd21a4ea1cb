/* cmd_update_manifest.c -- `doppler update-manifest MODEL [--q4k-matmul fused|dequant]
 * [--compute-precision f16|f32] [--q4k-layout LAYOUT] [--dry-run] [--allow-unsafe]`: persist
 * kernel hints in an RDRR manifest without touching shards (src/format/inspect.c). */
#include <stdio.h>
#include <string.h>
#include "commands.h"
#include "core/buf.h"
#include "doppler_status.h"
#include "format/inspect.h"

static const char *USAGE = "usage: doppler update-manifest MODEL [--q4k-matmul fused|dequant] [--compute-precision f16|f32]\n"
                           "                                [--q4k-layout LAYOUT] [--dry-run] [--allow-unsafe]\n";

int cmd_update_manifest(int argc, char **argv) {
  dp_manifest_edit e = {0};
  const char *dir = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) { fputs(USAGE, stdout); return 0; }
    if (!strcmp(a, "--dry-run")) e.dry_run = 1;
    else if (!strcmp(a, "--allow-unsafe")) e.allow_unsafe = 1;
    else if (!strcmp(a, "--q4k-matmul") || !strcmp(a, "--compute-precision") || !strcmp(a, "--q4k-layout")) {
      if (i + 1 >= argc) { fprintf(stderr, "doppler update-manifest: %s needs a value\n", a); return 2; }
      const char *v = argv[++i];
      if (!strcmp(a, "--q4k-matmul")) e.q4k_matmul = v;
      else if (!strcmp(a, "--compute-precision")) e.compute_precision = v;
      else e.q4k_layout = v;
    } else if (a[0] == '-') { fprintf(stderr, "doppler update-manifest: unknown flag %s\n%s", a, USAGE); return 2; }
    else if (!dir) dir = a;
    else { fputs(USAGE, stderr); return 2; }
  }
  if (!dir) { fputs(USAGE, stderr); return 2; }
  dp_buf r = {0};
  dp_status st = dp_manifest_update(dir, &e, &r);
  if (r.data) fputs(r.data, stdout);
  dp_buf_free(&r);
  if (st) { fprintf(stderr, "doppler update-manifest: %s\n", dp_error_message()); return st == DP_ERR_INVALID_ARG ? 2 : 1; }
  if (e.dry_run) printf("(dry run: manifest not written)\n");
  return 0;
}
