/* h5.c: HDF5 error handling at mn's boundary (mn_h5.h). */
#include "mn_h5.h"

#include <hdf5.h>
#include <stdio.h>

void mn_h5_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

static herr_t first_error(unsigned n, const H5E_error2_t *e, void *data) {
  if (n == 0 && e->desc) snprintf(data, 256, "%s", e->desc);
  return 0;
}

const char *mn_h5_reason(char buf[256]) {
  buf[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, buf);
  H5Eclear2(H5E_DEFAULT);
  return buf;
}
