/* status.c: names and exit codes of mn_status_t. */
#include "mn_status.h"

#include <stdarg.h>
#include <stdio.h>

const char *mn_status_string(mn_status_t st) {
  switch (st) {
  case MN_OK: return "ok";
  case MN_ERR_USAGE: return "usage error";
  case MN_ERR_CONFIG: return "configuration error";
  case MN_ERR_DATA: return "bad data";
  case MN_ERR_NOINPUT: return "missing input";
  case MN_ERR_PEER: return "peer failed";
  case MN_ERR_INTERNAL: return "internal error";
  case MN_ERR_NOMEM: return "out of memory";
  case MN_ERR_IO: return "I/O error";
  case MN_ERR_PREEMPTED: return "preempted";
  }
  return "unknown status";
}

int mn_status_exit_code(mn_status_t st) {
  switch (st) {
  case MN_OK: return MN_EXIT_OK;
  case MN_ERR_USAGE:
  case MN_ERR_CONFIG: return MN_EXIT_USAGE;
  case MN_ERR_DATA: return MN_EXIT_DATAERR;
  case MN_ERR_NOINPUT: return MN_EXIT_NOINPUT;
  case MN_ERR_PEER: return MN_EXIT_UNAVAILABLE;
  case MN_ERR_IO: return MN_EXIT_IOERR;
  case MN_ERR_PREEMPTED: return MN_EXIT_TEMPFAIL;
  case MN_ERR_INTERNAL:
  case MN_ERR_NOMEM: break;
  }
  return MN_EXIT_SOFTWARE;
}

/* Severity order: an input error explains more than a peer failure it caused, and an
 * internal error hides nothing. Higher rank wins. */
static int severity(mn_status_t st) {
  switch (st) {
  case MN_OK: return 0;
  case MN_ERR_PREEMPTED: return 1;
  case MN_ERR_PEER: return 2;
  case MN_ERR_IO: return 3;
  case MN_ERR_DATA: return 4;
  case MN_ERR_NOINPUT: return 5;
  case MN_ERR_CONFIG: return 6;
  case MN_ERR_USAGE: return 7;
  case MN_ERR_NOMEM: return 8;
  case MN_ERR_INTERNAL: return 9;
  }
  return 9;
}

mn_status_t mn_status_worse(mn_status_t a, mn_status_t b) {
  return severity(b) > severity(a) ? b : a;
}

static _Thread_local char g_last_error[2048];

mn_status_t mn_error(mn_status_t st, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
  va_end(ap);
  return st;
}

const char *mn_error_message(void) { return g_last_error; }
void mn_error_clear(void) { g_last_error[0] = '\0'; }
