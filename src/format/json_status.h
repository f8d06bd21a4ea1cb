/* json_status.h -- the status for a NULL from core/json's parser, for the format readers:
 * the status the parser recorded (DP_ERR_NOMEM, DP_ERR_IO), DP_ERR_FORMAT otherwise. */
#ifndef DP_FORMAT_JSON_STATUS_H
#define DP_FORMAT_JSON_STATUS_H
#include "core/error.h"

static inline dp_status dp_json_fail_status(void) {
  dp_status s = dp_error_status();
  return s == DP_OK ? DP_ERR_FORMAT : s;
}
#endif
