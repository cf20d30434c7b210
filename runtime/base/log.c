/* log.c: the rank-tagged logger of mn_log.h. Each line is formatted whole, timestamp
 * first, and written in one piece through the console (mn_console.h), so that lines of
 * different ranks interleave whole and none is glued onto an open progress line. */
#include "mn_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mn_console.h"

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

void mn_log_timestamp(char *buf, size_t len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  char day[32];
  strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf, len, "%s.%03dZ", day, (int)(ts.tv_nsec / 1000000));
}

/* One line: time, who, the level's name (none: NULL), the message. */
static void write_line(const char *level, const char *fmt, va_list ap) {
  char msg[2048], line[2400], when[40], who[128];
  vsnprintf(msg, sizeof msg, fmt, ap);
  mn_log_timestamp(when, sizeof when);
  if (g_log.rank < 0) /* "mnrun: error: ...", "mnrun: ..." */
    snprintf(who, sizeof who, "%s:", g_log.prog);
  else /* "mn[r0 node07] error: ...", "mn[r0 node07] ..." */
    snprintf(who, sizeof who, "%s[r%d %s]", g_log.prog, g_log.rank, g_log.host);
  snprintf(line, sizeof line, "%s %s %s%s%s\n", when, who, level ? level : "", level ? ": " : "",
           msg);
  mn_console_write(stderr, line);
}

void mn_log_vwrite(mn_log_level_t level, const char *fmt, va_list ap) {
  write_line(level_name(level), fmt, ap);
}

void mn_log_say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  write_line(NULL, fmt, ap);
  va_end(ap);
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
