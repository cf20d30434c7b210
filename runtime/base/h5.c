/* h5.c: HDF5 error handling at mn's boundary (mn_h5.h). */
#include "mn_h5.h"

#include <hdf5.h>
#include <stdio.h>
#include <string.h>

void mn_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* The innermost message, made short: HDF5's file drivers word a failed system call as
 * "file write failed: time = ..., filename = ..., errno = 28, error message = 'No space
 * left on device', buf = ..." (with a newline inside), long enough to be cut before its
 * reason; keep "file write failed: No space left on device". */
static herr_t first_error(unsigned n, const H5E_error2_t *e, void *data) {
  char *buf = data;
  if (n != 0 || !e->desc) return 0;
  const char *msg = strstr(e->desc, "error message = '");
  if (msg) {
    msg += strlen("error message = '");
    size_t head = strcspn(e->desc, ":,"), len = strcspn(msg, "'");
    snprintf(buf, 256, "%.*s: %.*s", (int)(head < 120 ? head : 120), e->desc,
             (int)(len < 120 ? len : 120), msg);
  } else {
    snprintf(buf, 256, "%s", e->desc);
  }
  for (char *p = buf; *p; p++)
    if (*p == '\n') *p = ' ';
  return 0;
}

const char *mn_h5_reason_errno(char buf[256], int saved_errno) {
  buf[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, buf);
  H5Eclear2(H5E_DEFAULT);
  if (saved_errno != 0 && !strstr(buf, strerror(saved_errno))) {
    size_t used = strlen(buf);
    snprintf(buf + used, 256 - used, "%s%s", used ? ": " : "", strerror(saved_errno));
  }
  return buf;
}

const char *mn_h5_reason(char buf[256]) { return mn_h5_reason_errno(buf, 0); }
