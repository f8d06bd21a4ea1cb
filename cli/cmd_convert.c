/* cmd_convert.c -- `doppler convert SRC OUT [--quant TYPE] [--shard-size BYTES]`: thin CLI
 * over dp_convert (src/format/convert.c). The progress bar is drawn only on a terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "commands.h"
#include "doppler_status.h"
#include "format/convert.h"

static void convert_usage(FILE *f) {
  fprintf(f, "usage: doppler convert SRC OUT [--quant f32|f16|bf16|q8_0|q4_k|q6_k|q4_k_m] [--shard-size BYTES]\n"
             "  SRC: HF directory, .gguf file or RDRR directory; OUT: RDRR directory, or a .gguf file\n"
             "  without --quant, stored types are kept (MXFP4 always stays MXFP4, 1-D tensors become f32)\n");
}

int cmd_convert(int argc, char **argv) {
  const char *pos[2] = {0};
  int np = 0;
  dp_convert_opts o = {0};
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { convert_usage(stdout); return 0; }
    if (!strcmp(argv[i], "--quant") && i + 1 < argc) o.quant = argv[++i];
    else if (!strcmp(argv[i], "--shard-size") && i + 1 < argc) {
      char *end;
      o.shard_size = strtoull(argv[++i], &end, 10);
      if (*end || !o.shard_size) { fprintf(stderr, "doppler convert: bad --shard-size %s\n", argv[i]); return 2; }
    } else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "doppler convert: unknown flag %s\n", argv[i]); convert_usage(stderr); return 2; }
    else if (np < 2) pos[np++] = argv[i];
    else { convert_usage(stderr); return 2; }
  }
  if (np != 2) { convert_usage(stderr); return 2; }
  o.progress = isatty(2);
  dp_status st = dp_convert(pos[0], pos[1], &o);
  if (st) { fprintf(stderr, "doppler convert: %s\n", dp_error_message()); return 1; }
  return 0;
}
