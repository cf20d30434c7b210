/* console.c: the progress line and the log lines on one terminal (mn_console.h). */
#include "mn_console.h"

#include <pthread.h>
#include <string.h>

static struct {
  pthread_mutex_t lock;
  char line[512]; /* the open progress line ("" when none) */
} g_console = {PTHREAD_MUTEX_INITIALIZER, ""};

void mn_console_progress(const char *line, int redraw) {
  pthread_mutex_lock(&g_console.lock);
  if (redraw) {
    snprintf(g_console.line, sizeof g_console.line, "%s", line);
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
  pthread_mutex_unlock(&g_console.lock);
}
