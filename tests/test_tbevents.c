/* test_tbevents.c: runtime/metrics/tbevents.c, TensorBoard event files: CRC-32C against its
 * published check values, and the bytes of a scalar event against a hand-encoded Event
 * protobuf in its TFRecord frame. (tests/test_tensorboard.sh reads a whole run's file.) */
#include "mn_tbevents.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mn_test.h"

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t masked(const void *data, size_t n) {
  uint32_t c = mn_crc32c(0, data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static void test_crc32c(void) {
  unsigned char zeros[32] = {0}, ones[32];
  memset(ones, 0xff, sizeof ones);
  CHECK(mn_crc32c(0, "123456789", 9) == 0xE3069283u); /* the CRC-32C check value */
  CHECK(mn_crc32c(0, zeros, 32) == 0x8A9136AAu);      /* RFC 3720, B.4 */
  CHECK(mn_crc32c(0, ones, 32) == 0x62A8AB43u);
  CHECK(mn_crc32c(mn_crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u); /* in pieces */
}

/* Read record k (0: the first) of file into body; returns its length, -1 when bad. */
static long read_record(const unsigned char *buf, size_t len, int k, const unsigned char **body) {
  size_t at = 0;
  for (int i = 0;; i++) {
    if (at + 12 > len) return -1;
    uint64_t n = 0;
    for (int b = 0; b < 8; b++) n |= (uint64_t)buf[at + b] << (8 * b);
    if (at + 16 + n > len || le32(buf + at + 8) != masked(buf + at, 8) ||
        le32(buf + at + 12 + n) != masked(buf + at + 12, n))
      return -1;
    if (i == k) {
      *body = buf + at + 12;
      return (long)n;
    }
    at += 16 + n;
  }
}

static void test_file(void) {
  char dir[] = "/tmp/mn_test_tbevents.XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char sub[64];
  snprintf(sub, sizeof sub, "%s/a/b", dir); /* made with its parents */
  mn_tb_t *tb = NULL;
  CHECK(mn_tb_open(sub, &tb) == MN_OK);
  if (!tb) return;
  CHECK(strstr(mn_tb_path(tb), "/events.out.tfevents.") != NULL);
  CHECK(mn_tb_scalar(tb, "a/b", 7, 100.0, 1.5f) == MN_OK);
  CHECK(mn_tb_flush(tb) == MN_OK);
  char path[4096];
  snprintf(path, sizeof path, "%s", mn_tb_path(tb));
  mn_tb_close(tb);
  FILE *f = fopen(path, "rb");
  unsigned char buf[4096];
  size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
  if (f) fclose(f);
  const unsigned char *body = NULL;
  long n = read_record(buf, len, 0, &body);
  /* the first: wall_time, step 0, file_version "brain.Event:2" (field 3) */
  CHECK(n == 9 + 2 + 2 + 13 && body[0] == 0x09 && body[9] == 0x10 && body[10] == 0 &&
        body[11] == 0x1a && body[12] == 13 && !memcmp(body + 13, "brain.Event:2", 13));
  /* the scalar: wall_time 100.0 (1, double), step 7 (2), summary (5) { value (1) { tag (1)
   * "a/b", simple_value (2, float) 1.5 } } */
  static const unsigned char want[] = {0x09, 0,    0,    0,    0,    0,    0,    0x59, 0x40,
                                       0x10, 0x07, 0x2a, 0x0c, 0x0a, 0x0a, 0x0a, 0x03, 'a',
                                       '/',  'b',  0x15, 0,    0,    0xc0, 0x3f};
  n = read_record(buf, len, 1, &body);
  CHECK_MSG(n == (long)sizeof want && !memcmp(body, want, sizeof want), "record 1: %ld bytes", n);
  CHECK(read_record(buf, len, 2, &body) == -1); /* nothing more */
  buf[len - 1] ^= 1;                            /* a changed byte: its CRC says so */
  CHECK(read_record(buf, len, 1, &body) == -1);
  unlink(path);
  snprintf(path, sizeof path, "%s/a/b", dir);
  rmdir(path);
  snprintf(path, sizeof path, "%s/a", dir);
  rmdir(path);

  /* a directory that cannot be made: MN_ERR_IO */
  snprintf(path, sizeof path, "%s/file", dir);
  f = fopen(path, "w");
  if (f) fclose(f);
  snprintf(sub, sizeof sub, "%s/file/tb", dir);
  tb = NULL;
  CHECK(mn_tb_open(sub, &tb) == MN_ERR_IO && tb == NULL);
  snprintf(path, sizeof path, "%s/file", dir);
  unlink(path);
  rmdir(dir);
}

int main(void) {
  test_crc32c();
  test_file();
  return mn_test_result("test_tbevents");
}
