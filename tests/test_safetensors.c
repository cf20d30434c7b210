/* test_safetensors.c: safetensors files (runtime/state/safetensors.c).
 *
 * Round trip of tensors and metadata, bit for bit; the bytes on disk laid out as the format
 * says (8-byte little-endian header length, a JSON header padded to 8 bytes, the data at the
 * offsets the header gives); and every kind of bad file refused with MN_ERR_DATA (or
 * MN_ERR_NOINPUT) and a message naming the file and, where it applies, the tensor: a
 * missing tensor, another shape, another dtype, a header longer than the file, a header
 * that is not JSON, offsets outside the data, overlapping tensors, a truncated file. A write
 * into a missing directory fails with MN_ERR_IO and leaves nothing. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mn_safetensors.h"
#include "mn_test.h"

static char g_dir[256];

static void path_of(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", g_dir, name);
}

/* A file of the given raw header (padded here) followed by nbytes of data. */
static void write_raw(const char *path, const char *header, size_t nbytes) {
  FILE *f = fopen(path, "wb");
  uint64_t len = strlen(header);
  fwrite(&len, sizeof len, 1, f);
  fwrite(header, 1, len, f);
  for (size_t i = 0; i < nbytes; i++) fputc(0, f);
  fclose(f);
}

/* No "*.tmp*" file in the scratch directory. */
static int no_temporary(void) {
  DIR *d = opendir(g_dir);
  int clean = d != NULL;
  for (struct dirent *e; d && (e = readdir(d));) clean = clean && !strstr(e->d_name, ".tmp");
  if (d) closedir(d);
  return clean;
}

static int message_has(const char *part) { return strstr(mn_error_message(), part) != NULL; }

static void test_round_trip(void) {
  float w[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 7}, b[3] = {0.25f, -1, 2};
  mn_snapshot_tensor_t t[2] = {{.name = "0.weight", .ndims = 2, .dims = {3, 2}, .data = w},
                               {.name = "0.bias", .ndims = 1, .dims = {3}, .data = b}};
  const char *md[] = {"format", "pt", "note", "a \"quoted\" value"};
  char path[512];
  path_of(path, sizeof path, "rt.safetensors");
  CHECK(mn_safetensors_write(path, t, 2, md, 2) == MN_OK);

  float w2[6], b2[3];
  mn_snapshot_tensor_t r[2] = {{.name = "0.bias", .ndims = 1, .dims = {3}, .data = b2},
                               {.name = "0.weight", .ndims = 2, .dims = {3, 2}, .data = w2}};
  CHECK(mn_safetensors_read(path, r, 2) == MN_OK);
  CHECK(memcmp(w, w2, sizeof w) == 0 && memcmp(b, b2, sizeof b) == 0);
  char v[64];
  CHECK(mn_safetensors_metadata(path, "note", v, sizeof v) == MN_OK &&
        !strcmp(v, "a \"quoted\" value"));
  CHECK(mn_safetensors_metadata(path, "absent", v, sizeof v) == MN_OK && v[0] == '\0');

  /* the layout: header length, the header a multiple of 8, data where the offsets say */
  FILE *f = fopen(path, "rb");
  uint64_t len = 0;
  CHECK(f && fread(&len, sizeof len, 1, f) == 1);
  CHECK(len % 8 == 0);
  char *h = calloc(1, len + 1);
  CHECK(fread(h, 1, len, f) == len);
  CHECK_MSG(strstr(h, "\"0.weight\":{\"shape\":[3,2],\"data_offsets\":[0,24],\"dtype\":\"F32\"}"),
            "%s", h);
  CHECK_MSG(strstr(h, "\"0.bias\":{\"shape\":[3],\"data_offsets\":[24,36],\"dtype\":\"F32\"}"),
            "%s", h);
  float data[9];
  CHECK(fread(data, sizeof(float), 9, f) == 9 && fgetc(f) == EOF);
  CHECK(memcmp(data, w, sizeof w) == 0 && memcmp(data + 6, b, sizeof b) == 0);
  fclose(f);
  free(h);
  CHECK(no_temporary());
}

static void test_refused(void) {
  char path[512];
  float buf[6];
  mn_snapshot_tensor_t want = {.name = "0.weight", .ndims = 2, .dims = {3, 2}, .data = buf};
  path_of(path, sizeof path, "rt.safetensors");

  mn_snapshot_tensor_t other = want;
  snprintf(other.name, sizeof other.name, "1.weight");
  CHECK(mn_safetensors_read(path, &other, 1) == MN_ERR_DATA && message_has("no tensor 1.weight"));
  other = want;
  other.dims[1] = 4;
  CHECK(mn_safetensors_read(path, &other, 1) == MN_ERR_DATA &&
        message_has("0.weight is 3x2 in the file, 3x4 here"));

  path_of(path, sizeof path, "missing.safetensors");
  CHECK(mn_safetensors_read(path, &want, 1) == MN_ERR_NOINPUT);

  static const struct {
    const char *name, *header, *why;
    size_t nbytes;
  } bad[] = {
      {"f16", "{\"0.weight\":{\"dtype\":\"F16\",\"shape\":[3,2],\"data_offsets\":[0,12]}}",
       "0.weight is F16, expected F32", 12},
      {"json", "{\"0.weight\":{\"dtype\":", "its header is not a JSON object", 24},
      {"beyond", "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}}",
       "outside the file's 20 data bytes", 20},
      {"overlap",
       "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]},"
       "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[20,32]}}",
       "tensors overlap", 32},
      {"size", "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,20]}}",
       "20 data bytes for 6 floats", 24},
      {"negative", "{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[-4,20]}}",
       "data_offsets missing or outside", 24},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    path_of(path, sizeof path, bad[i].name);
    write_raw(path, bad[i].header, bad[i].nbytes);
    mn_status_t st = mn_safetensors_read(path, &want, 1);
    CHECK_MSG(st == MN_ERR_DATA && message_has(bad[i].why) && message_has(path), "%s: %s",
              bad[i].name, mn_error_message());
  }

  /* a header length beyond the file, and a file of 5 bytes */
  path_of(path, sizeof path, "long");
  FILE *f = fopen(path, "wb");
  uint64_t len = 1000;
  fwrite(&len, sizeof len, 1, f);
  fputs("{}", f);
  fclose(f);
  CHECK_MSG(mn_safetensors_read(path, &want, 1) == MN_ERR_DATA &&
                message_has("a header of 1000 bytes in a file of 10"),
            "%s", mn_error_message());
  path_of(path, sizeof path, "short");
  f = fopen(path, "wb");
  fputs("hello", f);
  fclose(f);
  CHECK_MSG(mn_safetensors_read(path, &want, 1) == MN_ERR_DATA &&
                message_has("shorter than 8 bytes"),
            "%s", mn_error_message());

  /* writing: a missing directory, and a name given twice */
  path_of(path, sizeof path, "no/such/dir/x.safetensors");
  CHECK(mn_safetensors_write(path, &want, 1, NULL, 0) == MN_ERR_IO && message_has("cannot create"));
  mn_snapshot_tensor_t twice[2] = {want, want};
  path_of(path, sizeof path, "twice.safetensors");
  CHECK(mn_safetensors_write(path, twice, 2, NULL, 0) == MN_ERR_USAGE &&
        message_has("given twice"));
  struct stat sb;
  CHECK(stat(path, &sb) != 0);
  CHECK(no_temporary());
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s/mn-test-safetensors.XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(g_dir)) return 1;
  test_round_trip();
  test_refused();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", g_dir);
  return mn_test_result("test_safetensors");
}
