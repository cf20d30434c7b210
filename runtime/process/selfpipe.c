/* selfpipe.c: signals as bytes on a pipe (mn_selfpipe.h). */
#include "mn_selfpipe.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

mn_status_t mn_selfpipe_open(int fds[2]) {
  if (pipe(fds) != 0) return mn_error(MN_ERR_INTERNAL, "pipe: %s", strerror(errno));
  for (int i = 0; i < 2; i++) {
    fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    fcntl(fds[i], F_SETFL, O_NONBLOCK);
  }
  return MN_OK;
}

void mn_selfpipe_write(int fd, int sig) {
  int saved = errno;
  unsigned char b = (unsigned char)sig;
  ssize_t w = write(fd, &b, 1); /* a full pipe already holds a wake-up */
  (void)w;
  errno = saved;
}

void mn_selfpipe_catch(const int *sigs, int n, void (*handler)(int), struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
  sigemptyset(&sa.sa_mask);
  for (int i = 0; i < n; i++) sigaction(sigs[i], &sa, old ? &old[i] : NULL);
}
