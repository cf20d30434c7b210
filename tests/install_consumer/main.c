/* tests/install_consumer/main.c: a program of one's own built against an installed mn, with
 * find_package(mn) (CMakeLists.txt here) and with pkg-config (tests/test_install.sh). It
 * includes the public headers as a user would, and checks that the library it runs with is
 * the version of the headers it was compiled with. Exit 0 when it is, 1 otherwise. */
#include <mn/status.h>
#include <mn/version.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  int major = -1, minor = -1, patch = -1;
  const char *version = mn_version(&major, &minor, &patch);
  char headers[32];
  snprintf(headers, sizeof headers, "%d.%d.%d", MN_VERSION_MAJOR, MN_VERSION_MINOR,
           MN_VERSION_PATCH);
  printf("mn %s (headers %s)\n", version, headers);
  if (major != MN_VERSION_MAJOR || minor != MN_VERSION_MINOR || patch != MN_VERSION_PATCH ||
      strcmp(version, headers) != 0) {
    fprintf(stderr, "consumer: library %s (%d.%d.%d), headers %s\n", version, major, minor, patch,
            headers);
    return 1;
  }
  if (mn_status_exit_code(MN_ERR_PREEMPTED) != MN_EXIT_TEMPFAIL) {
    fprintf(stderr, "consumer: MN_ERR_PREEMPTED exits %d, not %d\n",
            mn_status_exit_code(MN_ERR_PREEMPTED), MN_EXIT_TEMPFAIL);
    return 1;
  }
  printf("MN_ERR_DATA: %s\n", mn_status_string(MN_ERR_DATA));
  return 0;
}
