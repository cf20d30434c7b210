/* shape.c: a tensor's shape as text (mn_shape.h). */
#include "mn_shape.h"

#include <stdio.h>

void mn_shape_string(int ndims, const int64_t *dims, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  if (ndims == 0) snprintf(buf, len, "scalar");
  for (int d = 0; d < ndims && used < len; d++)
    used += (size_t)snprintf(buf + used, len - used, "%s%lld", d ? "x" : "", (long long)dims[d]);
}
