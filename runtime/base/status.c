/* status.c: names and exit codes of mn_status_t. */
#include "mn_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
  case MN_ERR_UNAVAILABLE: return "unavailable";
  case MN_ERR_NONFINITE: return "non-finite values";
  case MN_ERR_LOCKED: return "snapshot directory in use";
  }
  return "unknown status";
}

int mn_status_exit_code(mn_status_t st) {
  switch (st) {
  case MN_OK: return MN_EXIT_OK;
  case MN_ERR_USAGE:
  case MN_ERR_CONFIG: return MN_EXIT_USAGE;
  case MN_ERR_DATA:
  case MN_ERR_NONFINITE: return MN_EXIT_DATAERR;
  case MN_ERR_LOCKED: return MN_EXIT_CANTCREAT;
  case MN_ERR_NOINPUT: return MN_EXIT_NOINPUT;
  case MN_ERR_PEER:
  case MN_ERR_UNAVAILABLE: return MN_EXIT_UNAVAILABLE;
  case MN_ERR_IO: return MN_EXIT_IOERR;
  case MN_ERR_PREEMPTED: return MN_EXIT_TEMPFAIL;
  case MN_ERR_INTERNAL:
  case MN_ERR_NOMEM: break;
  }
  return MN_EXIT_SOFTWARE;
}

/* Severity order: an input error explains more than a peer failure it caused, and an
 * internal error hides nothing. Later in the table is worse. */
static const mn_status_t by_severity[] = {
    MN_OK,          MN_ERR_PREEMPTED, MN_ERR_PEER,    MN_ERR_UNAVAILABLE, MN_ERR_IO,
    MN_ERR_LOCKED,  MN_ERR_NONFINITE, MN_ERR_DATA,    MN_ERR_NOINPUT,     MN_ERR_CONFIG,
    MN_ERR_USAGE,   MN_ERR_NOMEM,     MN_ERR_INTERNAL,
};
enum { NSEVERITY = sizeof by_severity / sizeof *by_severity };

int mn_status_severity(mn_status_t st) {
  for (int i = 0; i < NSEVERITY; i++)
    if (by_severity[i] == st) return i;
  return NSEVERITY - 1;
}

mn_status_t mn_status_from_severity(int severity) {
  return severity >= 0 && severity < NSEVERITY ? by_severity[severity] : MN_ERR_INTERNAL;
}

mn_status_t mn_status_worse(mn_status_t a, mn_status_t b) {
  return mn_status_severity(b) > mn_status_severity(a) ? b : a;
}

static _Thread_local char g_last_error[2048];

mn_status_t mn_error(mn_status_t st, const char *fmt, ...) {
  char msg[sizeof g_last_error]; /* the arguments may include mn_error_message() itself */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  memcpy(g_last_error, msg, sizeof msg);
  return st;
}

const char *mn_error_message(void) { return g_last_error; }
void mn_error_clear(void) { g_last_error[0] = '\0'; }
