/* log.h -- diagnostics on stderr. DOPPLER_LOG=debug|info|warn|error|quiet sets the level
 * (default warn). Notices that the user asked for (progress, conversions) use info. */
#ifndef DP_CORE_LOG_H
#define DP_CORE_LOG_H
enum { DP_LOG_DEBUG, DP_LOG_INFO, DP_LOG_WARN, DP_LOG_ERROR, DP_LOG_QUIET };
void dp_log(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void dp_log_set_level(int level);
int dp_log_level(void);
#endif
