/* version.c: mn_version() (mn/version.h), the library's own version, the numbers of the
 * headers it was built from. */
#include <mn/version.h>

#define STR(x) #x
#define VERSION_STRING(a, b, c) STR(a) "." STR(b) "." STR(c)

const char *mn_version(int *major, int *minor, int *patch) {
  if (major) *major = MN_VERSION_MAJOR;
  if (minor) *minor = MN_VERSION_MINOR;
  if (patch) *patch = MN_VERSION_PATCH;
  return VERSION_STRING(MN_VERSION_MAJOR, MN_VERSION_MINOR, MN_VERSION_PATCH);
}
