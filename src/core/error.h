/* error.h -- engine status codes and the last-error message.
 * Every failing function returns a dp_status (or NULL) and leaves a one-line message naming
 * the problem (file, tensor, byte offset, field) in a per-process buffer read by
 * dp_error_message(). The engine is single-threaded per process (it must also run as wasm32
 * without threads), so one buffer suffices. */
#ifndef DP_CORE_ERROR_H
#define DP_CORE_ERROR_H
#include "doppler_status.h"

/* Set the message (printf-style) and return `code`, so callers can write
 * `return dp_error(DP_ERR_FORMAT, "%s: bad header", path);` */
dp_status dp_error(dp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Prepend context to the current message: "ctx: old message". Returns the code unchanged. */
dp_status dp_error_wrap(dp_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void dp_error_clear(void);
/* The code of the last dp_error() (DP_OK after dp_error_clear): lets a caller that got NULL
 * from a constructor return the right status. */
dp_status dp_error_status(void);
#endif
