/* report.c: the per-rank exit report of mn_report.h (written by a rank, read by mnrun).
 *
 * A report is two lines, "exit=<code> host=<host>" and a message, written to a temporary
 * file in the report directory and renamed into place, so that a reader sees a whole report
 * or none. This file neither decides exit codes nor prints anything: mnrun's supervisor
 * does that with what it reads here. */
#include "mn_report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Copy src into dst (size n) as one line: newlines and carriage returns become spaces;
 * when spaces_too, spaces and tabs become '_' (for the host field). */
static void copy_line(char *dst, size_t n, const char *src, int spaces_too) {
  size_t i = 0;
  for (; src && src[i] && i + 1 < n; i++) {
    char c = src[i];
    if (c == '\n' || c == '\r') c = ' ';
    if (spaces_too && (c == ' ' || c == '\t')) c = '_';
    dst[i] = c;
  }
  dst[i] = '\0';
}

static int write_all(int fd, const char *buf, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, buf, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    n -= (size_t)w;
  }
  return 0;
}

mn_status_t mn_report_write(const char *dir, int rank, const char *host, int exit_code,
                            const char *message) {
  if (!dir || !dir[0]) return MN_OK;
  char hostbuf[MN_REPORT_HOST_MAX], msgbuf[MN_REPORT_MESSAGE_MAX];
  copy_line(hostbuf, sizeof hostbuf, host && host[0] ? host : "?", 1);
  copy_line(msgbuf, sizeof msgbuf, message ? message : "", 0);

  char text[MN_REPORT_HOST_MAX + MN_REPORT_MESSAGE_MAX + 64];
  int len = snprintf(text, sizeof text, "exit=%d host=%s\n%s\n", exit_code, hostbuf, msgbuf);
  char tmp[4096], final[4096];
  snprintf(tmp, sizeof tmp, "%s/.rank-%d.%ld.tmp", dir, rank, (long)getpid());
  snprintf(final, sizeof final, "%s/rank-%d", dir, rank);

  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return mn_error(MN_ERR_IO, "%s: cannot create report: %s", tmp, strerror(errno));
  if (write_all(fd, text, (size_t)len) != 0 || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp);
    return mn_error(MN_ERR_IO, "%s: cannot write report: %s", tmp, strerror(e));
  }
  if (close(fd) != 0 || rename(tmp, final) != 0) {
    int e = errno;
    unlink(tmp);
    return mn_error(MN_ERR_IO, "%s: cannot write report: %s", final, strerror(e));
  }
  return MN_OK;
}

/* Parse the first line: "exit=<int>" then optionally " host=<word>". */
static int parse_head(const char *line, mn_report_t *r) {
  if (strncmp(line, "exit=", 5) != 0) return -1;
  char *end;
  errno = 0;
  long code = strtol(line + 5, &end, 10);
  if (end == line + 5 || errno || code < 0 || code > 255) return -1;
  r->exit_code = (int)code;
  snprintf(r->host, sizeof r->host, "?");
  while (*end == ' ') end++;
  if (strncmp(end, "host=", 5) == 0) {
    copy_line(r->host, sizeof r->host, end + 5, 0);
    r->host[strcspn(r->host, " \n")] = '\0';
    if (!r->host[0]) snprintf(r->host, sizeof r->host, "?");
  }
  return 0;
}

mn_status_t mn_report_read(const char *dir, int rank, mn_report_t *report) {
  char path[4096];
  snprintf(path, sizeof path, "%s/rank-%d", dir, rank);
  FILE *f = fopen(path, "r");
  if (!f) {
    if (errno == ENOENT) return mn_error(MN_ERR_NOINPUT, "%s: no report", path);
    return mn_error(MN_ERR_IO, "%s: %s", path, strerror(errno));
  }
  mn_status_t st = MN_OK;
  mn_report_t r = {.rank = rank};
  char head[MN_REPORT_HOST_MAX + 64];
  if (!fgets(head, sizeof head, f) || parse_head(head, &r) != 0) {
    st = mn_error(MN_ERR_DATA, "%s: line 1: expected \"exit=<code> host=<host>\"", path);
    goto close_file;
  }
  if (fgets(r.message, sizeof r.message, f)) r.message[strcspn(r.message, "\r\n")] = '\0';
  *report = r;
close_file:
  fclose(f);
  return st;
}

const char *mn_report_exit_name(int exit_code) {
  switch (exit_code) {
  case MN_EXIT_OK: return "done";
  case MN_EXIT_USAGE: return "usage or config error";
  case MN_EXIT_DATAERR: return "bad data";
  case MN_EXIT_NOINPUT: return "missing input";
  case MN_EXIT_UNAVAILABLE: return "unavailable (peer, node or device)";
  case MN_EXIT_SOFTWARE: return "internal error";
  case MN_EXIT_CANTCREAT: return "snapshot directory in use";
  case MN_EXIT_IOERR: return "I/O error";
  case MN_EXIT_TEMPFAIL: return "preempted";
  }
  return NULL;
}
