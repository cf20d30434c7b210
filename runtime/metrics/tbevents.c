/* tbevents.c: TensorBoard event files of scalars (mn_tbevents.h): TFRecord framing with
 * CRC-32C, and the few Event and Summary protobuf fields encoded by hand. */
#include "mn_tbevents.h"

#include "mn_fs.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mn_tb {
  FILE *f;
  int write_errno; /* the first failed write (0: none) */
  char path[4096];
};

/* ---- CRC-32C (reflected polynomial 0x82F63B78), a byte at a time ----------------------- */

static uint32_t g_crc_table[256];
static pthread_once_t g_crc_once = PTHREAD_ONCE_INIT;

static void crc_table_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    g_crc_table[i] = c;
  }
}

uint32_t mn_crc32c(uint32_t crc, const void *data, size_t n) {
  pthread_once(&g_crc_once, crc_table_init);
  const unsigned char *p = data;
  crc = ~crc;
  for (size_t i = 0; i < n; i++) crc = g_crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* TFRecord's mask: rotate right by 15 and add a constant. */
static uint32_t masked_crc(const void *data, size_t n) {
  uint32_t c = mn_crc32c(0, data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

/* ---- protobuf: varints, tags, little-endian fixed fields ------------------------------- */

typedef struct pb {
  unsigned char buf[1024];
  size_t len;
} pb_t;

static void pb_varint(pb_t *b, uint64_t v) {
  do {
    unsigned char byte = v & 0x7f;
    v >>= 7;
    if (b->len < sizeof b->buf) b->buf[b->len++] = byte | (v ? 0x80 : 0);
  } while (v);
}

static void pb_fixed(pb_t *b, uint64_t v, int nbytes) {
  for (int i = 0; i < nbytes && b->len < sizeof b->buf; i++) b->buf[b->len++] = v >> (8 * i);
}

static void pb_bytes(pb_t *b, int field, const void *data, size_t n) {
  pb_varint(b, (uint64_t)field << 3 | 2);
  pb_varint(b, n);
  if (b->len + n <= sizeof b->buf) {
    memcpy(b->buf + b->len, data, n);
    b->len += n;
  }
}

/* An Event: wall_time (1, double), step (2, int64), then one more length-delimited field. */
static void event(pb_t *e, double wall_time, int64_t step, int field, const void *data, size_t n) {
  uint64_t bits;
  memcpy(&bits, &wall_time, 8);
  e->len = 0;
  pb_varint(e, 1 << 3 | 1);
  pb_fixed(e, bits, 8);
  pb_varint(e, 2 << 3 | 0);
  pb_varint(e, (uint64_t)step);
  pb_bytes(e, field, data, n);
}

/* One TFRecord: length, its masked CRC, the data, its masked CRC. */
static mn_status_t put_record(mn_tb_t *tb, const pb_t *e) {
  if (tb->write_errno)
    return mn_error(MN_ERR_IO, "%s: %s (an earlier write)", tb->path, strerror(tb->write_errno));
  unsigned char head[12], tail[4];
  uint64_t len = e->len;
  for (int i = 0; i < 8; i++) head[i] = (unsigned char)(len >> (8 * i));
  uint32_t c = masked_crc(head, 8), d = masked_crc(e->buf, e->len);
  for (int i = 0; i < 4; i++) {
    head[8 + i] = (unsigned char)(c >> (8 * i));
    tail[i] = (unsigned char)(d >> (8 * i));
  }
  errno = 0;
  if (fwrite(head, 1, 12, tb->f) != 12 || fwrite(e->buf, 1, e->len, tb->f) != e->len ||
      fwrite(tail, 1, 4, tb->f) != 4) {
    tb->write_errno = errno ? errno : EIO;
    return mn_error(MN_ERR_IO, "%s: %s", tb->path, strerror(tb->write_errno));
  }
  return MN_OK;
}

mn_status_t mn_tb_open(const char *dir, mn_tb_t **out) {
  mn_tb_t *tb = calloc(1, sizeof *tb);
  if (!tb) return mn_error(MN_ERR_NOMEM, "out of memory");
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0 || !host[0]) snprintf(host, sizeof host, "unknown");
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  mn_status_t st = mn_fs_mkdirs(dir);
  if (st != MN_OK) goto free_tb;
  snprintf(tb->path, sizeof tb->path, "%s/events.out.tfevents.%lld.%s.%d.mn", dir,
           (long long)now.tv_sec, host, (int)getpid());
  tb->f = fopen(tb->path, "wb");
  if (!tb->f) {
    st =
        mn_error(MN_ERR_IO, "%s: cannot write the TensorBoard file: %s", tb->path, strerror(errno));
    goto free_tb;
  }
  pb_t e;
  static const char version[] = "brain.Event:2";
  event(&e, (double)now.tv_sec + 1e-9 * (double)now.tv_nsec, 0, 3, version, strlen(version));
  st = put_record(tb, &e);
  if (st == MN_OK) st = mn_tb_flush(tb);
  if (st != MN_OK) goto close_file;
  *out = tb;
  return MN_OK;
close_file:
  fclose(tb->f);
free_tb:
  free(tb);
  return st;
}

mn_status_t mn_tb_scalar(mn_tb_t *tb, const char *tag, int64_t step, double wall_time,
                         float value) {
  pb_t v, s, e;
  uint32_t bits;
  memcpy(&bits, &value, 4);
  v.len = 0; /* Summary.Value: tag (1), simple_value (2, float) */
  pb_bytes(&v, 1, tag, strnlen(tag, 256));
  pb_varint(&v, 2 << 3 | 5);
  pb_fixed(&v, bits, 4);
  s.len = 0; /* Summary: value (1, repeated) */
  pb_bytes(&s, 1, v.buf, v.len);
  event(&e, wall_time, step, 5, s.buf, s.len);
  return put_record(tb, &e);
}

mn_status_t mn_tb_flush(mn_tb_t *tb) {
  if (!tb->write_errno && fflush(tb->f) != 0) tb->write_errno = errno ? errno : EIO;
  if (tb->write_errno) return mn_error(MN_ERR_IO, "%s: %s", tb->path, strerror(tb->write_errno));
  return MN_OK;
}

const char *mn_tb_path(const mn_tb_t *tb) { return tb->path; }

void mn_tb_close(mn_tb_t *tb) {
  if (!tb) return;
  fclose(tb->f);
  free(tb);
}
