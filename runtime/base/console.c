/* console.c: the progress line and the log lines on one terminal (mn_console.h).
 *
 * A log line clears an open progress line before it and redraws it after. Where standard
 * error is a terminal too (the usual case: both streams on the user's terminal), all of it
 * goes to stderr in one write, "\r" ESC[K, the log line, the progress line again: under
 * mpirun or srun, a rank's stdout and stderr reach the terminal through two pipes whose
 * order is not kept, so a clear written to stdout could land after the log line it was
 * meant to precede. A later redraw on stdout overwrites that copy of the progress line in
 * place. Where stderr is not a terminal (a log file) the clear and the redraw go to stdout
 * and the file gets the bare line. Whether stderr is a terminal: MN_STDERR_TTY (1 or 0,
 * set by mnrun from its own stderr, which ranks under mpirun cannot see), else isatty. */
#include "mn_console.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct {
  pthread_mutex_t lock;
  char line[512]; /* the open progress line ("" when none) */
  int redrawn;    /* a progress line has been redrawn in place (it may still show) */
  int stderr_tty; /* -1: not known yet */
} g_console = {PTHREAD_MUTEX_INITIALIZER, "", 0, -1};

static int stderr_tty(void) {
  if (g_console.stderr_tty < 0) {
    const char *env = getenv("MN_STDERR_TTY");
    g_console.stderr_tty = env && *env ? strcmp(env, "1") == 0 : isatty(STDERR_FILENO);
  }
  return g_console.stderr_tty;
}

void mn_console_progress(const char *line, int redraw) {
  pthread_mutex_lock(&g_console.lock);
  if (redraw) {
    snprintf(g_console.line, sizeof g_console.line, "%s", line);
    g_console.redrawn = 1;
    fprintf(stdout, "\r%s\x1b[K", g_console.line);
  } else {
    g_console.line[0] = '\0';
    fprintf(stdout, "%s\n", line);
  }
  fflush(stdout);
  pthread_mutex_unlock(&g_console.lock);
}

void mn_console_progress_end(void) {
  pthread_mutex_lock(&g_console.lock);
  if (g_console.line[0]) {
    fputc('\n', stdout);
    fflush(stdout);
  }
  g_console.line[0] = '\0';
  pthread_mutex_unlock(&g_console.lock);
}

void mn_console_write(FILE *f, const char *text) {
  pthread_mutex_lock(&g_console.lock);
  int open = g_console.line[0] != '\0';
  if (f == stderr && g_console.redrawn && stderr_tty()) {
    /* one write on stderr: clear (harmless on an empty line; a line the rank thinks ended
     * may still be showing, its newline in the other pipe), the text, the line again */
    fprintf(stderr, "\r\x1b[K%s%s%s", text, open ? g_console.line : "", open ? "\x1b[K" : "");
    fflush(stderr);
  } else {
    if (open) { /* clear it: the text starts at column 0 */
      fputs("\r\x1b[K", stdout);
      fflush(stdout);
    }
    fputs(text, f);
    fflush(f);
    if (open) {
      fprintf(stdout, "\r%s\x1b[K", g_console.line);
      fflush(stdout);
    }
  }
  pthread_mutex_unlock(&g_console.lock);
}
