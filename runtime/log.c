/* log.c: the rank-tagged logger of mn_log.h. One write(2)-sized fprintf per line, so
 * that lines of different ranks interleave whole. */
#include "mn_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
  char prog[32];
  int rank;
  char host[64];
  mn_log_level_t level;
} g_log = {"mn", -1, "", MN_LOG_INFO};

void mn_log_init(const char *prog, int rank, const char *host) {
  snprintf(g_log.prog, sizeof g_log.prog, "%s", prog ? prog : "mn");
  g_log.rank = rank;
  snprintf(g_log.host, sizeof g_log.host, "%s", host ? host : "");
}

void mn_log_set_level(mn_log_level_t level) { g_log.level = level; }
int mn_log_enabled(mn_log_level_t level) { return level <= g_log.level; }
int mn_log_is_root(void) { return g_log.rank <= 0; }

static const char *level_name(mn_log_level_t level) {
  static const char *names[] = {"error", "warning", "info", "debug"};
  return names[level];
}

void mn_log_vwrite(mn_log_level_t level, const char *fmt, va_list ap) {
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (g_log.rank < 0)
    fprintf(stderr, "%s: %s: %s\n", g_log.prog, level_name(level), msg);
  else
    fprintf(stderr, "%s[r%d %s] %s: %s\n", g_log.prog, g_log.rank, g_log.host, level_name(level),
            msg);
}

void mn_log_write(mn_log_level_t level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  mn_log_vwrite(level, fmt, ap);
  va_end(ap);
}

void mn_assert_fail(const char *expr, const char *file, int line) {
  mn_log_write(MN_LOG_ERROR, "assertion failed: %s (%s:%d)", expr, file, line);
  abort();
}
