/* safetensors.c: float32 tensors in the safetensors format (mn_safetensors.h).
 *
 * The JSON header is built and parsed with cJSON (Debian's libcjson); the tensor bytes are
 * written as they lie in memory, which is the format's little-endian order on every machine
 * mn builds for (checked at compile time). A reader checks the whole header before it reads
 * a byte of data: every entry's offsets inside the data section and no two entries
 * overlapping, as the format's own reader does. */
#include "mn_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c writes tensors as they lie in memory: a little-endian machine is needed"
#endif

#define HEADER_MAX (100LL << 20) /* the format's own bound on the header */

static int64_t nelems(const mn_snapshot_tensor_t *t) {
  int64_t n = 1;
  for (int d = 0; d < t->ndims; d++) n *= t->dims[d];
  return n;
}

static void shape_text(const int64_t *dims, int ndims, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (int d = 0; d < ndims && used < len; d++)
    used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, d ? "x" : "", dims[d]);
  if (ndims == 0) snprintf(buf, len, "a scalar");
}

/* ---- writing ---------------------------------------------------------------------------- */

/* The header for t and meta, padded with spaces to a multiple of 8 bytes (heap, *len). */
static mn_status_t header_build(const char *path, const mn_snapshot_tensor_t *t, int n,
                                const char *const *meta, int nmeta, char **out, size_t *len) {
  cJSON *root = cJSON_CreateObject(), *md = cJSON_CreateObject();
  mn_status_t st = root && md ? MN_OK : mn_error(MN_ERR_NOMEM, "%s: out of memory", path);
  for (int i = 0; st == MN_OK && i < nmeta; i++)
    if (!cJSON_AddStringToObject(md, meta[2 * i], meta[2 * i + 1]))
      st = mn_error(MN_ERR_NOMEM, "%s: out of memory", path);
  if (st == MN_OK) {
    cJSON_AddItemToObject(root, "__metadata__", md);
    md = NULL;
  }
  int64_t off = 0;
  for (int i = 0; st == MN_OK && i < n; i++) {
    if (!strcmp(t[i].name, "__metadata__") || cJSON_GetObjectItemCaseSensitive(root, t[i].name)) {
      st = mn_error(MN_ERR_USAGE, "%s: tensor name '%s' given twice or reserved", path, t[i].name);
      break;
    }
    cJSON *e = cJSON_AddObjectToObject(root, t[i].name);
    cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
    cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
    if (!offs || !cJSON_AddStringToObject(e, "dtype", "F32")) {
      st = mn_error(MN_ERR_NOMEM, "%s: out of memory", path);
      break;
    }
    for (int d = 0; d < t[i].ndims; d++)
      cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].dims[d]));
    int64_t end = off + nelems(&t[i]) * (int64_t)sizeof(float);
    cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
    cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)end));
    off = end;
  }
  char *text = st == MN_OK ? cJSON_PrintUnformatted(root) : NULL;
  if (st == MN_OK && !text) st = mn_error(MN_ERR_NOMEM, "%s: out of memory", path);
  if (st == MN_OK) {
    size_t raw = strlen(text), padded = (raw + 7) / 8 * 8;
    char *h = malloc(padded + 1);
    if (!h) {
      st = mn_error(MN_ERR_NOMEM, "%s: out of memory", path);
    } else {
      memcpy(h, text, raw);
      memset(h + raw, ' ', padded - raw);
      h[padded] = '\0';
      *out = h;
      *len = padded;
    }
  }
  free(text);
  cJSON_Delete(md);
  cJSON_Delete(root);
  return st;
}

mn_status_t mn_safetensors_write(const char *path, const mn_snapshot_tensor_t *t, int n,
                                 const char *const *meta, int nmeta) {
  char *header = NULL, tmp[4200];
  size_t hlen = 0;
  mn_status_t st = header_build(path, t, n, meta, nmeta, &header, &hlen);
  if (st != MN_OK) return st;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid()) >= sizeof tmp) {
    free(header);
    return mn_error(MN_ERR_IO, "%s: path is too long", path);
  }
  FILE *f = fopen(tmp, "wb");
  if (!f) {
    st = mn_error(MN_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    goto free_header;
  }
  uint64_t len = hlen; /* little-endian, as the data */
  int ok = fwrite(&len, sizeof len, 1, f) == 1 && fwrite(header, 1, hlen, f) == hlen;
  for (int i = 0; ok && i < n; i++) {
    size_t count = (size_t)nelems(&t[i]);
    ok = fwrite(t[i].data, sizeof(float), count, f) == count;
  }
  ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int e = errno;
  if (fclose(f) != 0 && ok) {
    ok = 0;
    e = errno;
  }
  if (ok && rename(tmp, path) != 0) {
    st = mn_error(MN_ERR_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    goto remove_tmp;
  }
  if (!ok) {
    st = mn_error(MN_ERR_IO, "%s: cannot write: %s", tmp, strerror(e));
    goto remove_tmp;
  }
  goto free_header;
remove_tmp:
  remove(tmp);
free_header:
  free(header);
  return st;
}

/* ---- reading ---------------------------------------------------------------------------- */

typedef struct file {
  const char *path;
  int fd;
  int64_t data_start, data_len; /* the data section */
  cJSON *header;
} file_t;

static int cmp_i64_pair(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* An entry's offsets (out: begin, end) when they are two integers inside the data. */
static int entry_offsets(const file_t *f, const cJSON *e, int64_t *begin, int64_t *end) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
  if (!cJSON_IsArray(o) || cJSON_GetArraySize(o) != 2) return 0;
  double b = cJSON_GetArrayItem(o, 0)->valuedouble, x = cJSON_GetArrayItem(o, 1)->valuedouble;
  if (!cJSON_IsNumber(cJSON_GetArrayItem(o, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(o, 1)) ||
      b < 0 || x < b || x > (double)f->data_len || b != (double)(int64_t)b ||
      x != (double)(int64_t)x)
    return 0;
  *begin = (int64_t)b;
  *end = (int64_t)x;
  return 1;
}

/* Every entry's offsets inside the data and no two overlapping. */
static mn_status_t check_entries(const file_t *f) {
  int n = cJSON_GetArraySize(f->header), k = 0;
  int64_t(*spans)[2] = malloc(sizeof *spans * (size_t)(n ? n : 1));
  if (!spans) return mn_error(MN_ERR_NOMEM, "%s: out of memory", f->path);
  mn_status_t st = MN_OK;
  for (const cJSON *e = f->header->child; e && st == MN_OK; e = e->next) {
    if (!strcmp(e->string, "__metadata__")) continue;
    if (!cJSON_IsObject(e) || !entry_offsets(f, e, &spans[k][0], &spans[k][1]))
      st = mn_error(MN_ERR_DATA,
                    "%s: %s: data_offsets missing or outside the file's %" PRId64 " data bytes",
                    f->path, e->string, f->data_len);
    k++;
  }
  qsort(spans, (size_t)k, sizeof *spans, cmp_i64_pair);
  for (int i = 1; st == MN_OK && i < k; i++)
    if (spans[i][0] < spans[i - 1][1])
      st = mn_error(MN_ERR_DATA,
                    "%s: tensors overlap in the data (bytes %" PRId64 " and %" PRId64 ")", f->path,
                    spans[i - 1][0], spans[i][0]);
  free(spans);
  return st;
}

static void file_close(file_t *f) {
  cJSON_Delete(f->header);
  if (f->fd >= 0) close(f->fd);
}

static mn_status_t file_open(const char *path, file_t *f) {
  memset(f, 0, sizeof *f);
  f->path = path;
  f->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (f->fd < 0)
    return mn_error(errno == ENOENT ? MN_ERR_NOINPUT : MN_ERR_DATA, "%s: cannot open: %s", path,
                    strerror(errno));
  struct stat sb;
  uint64_t hlen = 0;
  mn_status_t st = MN_OK;
  if (fstat(f->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
    st = mn_error(MN_ERR_DATA, "%s: not a regular file", path);
  else if (pread(f->fd, &hlen, sizeof hlen, 0) != (ssize_t)sizeof hlen)
    st = mn_error(MN_ERR_DATA, "%s: not a safetensors file (shorter than 8 bytes)", path);
  else if (hlen > (uint64_t)HEADER_MAX || (int64_t)hlen > (int64_t)sb.st_size - 8)
    st = mn_error(MN_ERR_DATA,
                  "%s: not a safetensors file (a header of %" PRIu64 " bytes in a file of %lld)",
                  path, hlen, (long long)sb.st_size);
  char *text = st == MN_OK ? malloc(hlen + 1) : NULL;
  if (st == MN_OK && !text) st = mn_error(MN_ERR_NOMEM, "%s: out of memory", path);
  if (st == MN_OK && pread(f->fd, text, hlen, 8) != (ssize_t)hlen)
    st = mn_error(MN_ERR_DATA, "%s: cannot read its header: %s", path, strerror(errno));
  if (st == MN_OK) {
    f->header = cJSON_ParseWithLength(text, hlen);
    if (!cJSON_IsObject(f->header))
      st = mn_error(MN_ERR_DATA, "%s: not a safetensors file (its header is not a JSON object)",
                    path);
  }
  free(text);
  f->data_start = 8 + (int64_t)hlen;
  f->data_len = (int64_t)sb.st_size - f->data_start;
  if (st == MN_OK) st = check_entries(f);
  if (st != MN_OK) file_close(f);
  return st;
}

static mn_status_t read_one(const file_t *f, mn_snapshot_tensor_t *t) {
  const cJSON *e = cJSON_GetObjectItemCaseSensitive(f->header, t->name);
  if (!cJSON_IsObject(e)) return mn_error(MN_ERR_DATA, "%s: no tensor %s", f->path, t->name);
  const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(e, "dtype");
  if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "F32"))
    return mn_error(MN_ERR_DATA, "%s: %s is %s, expected F32", f->path, t->name,
                    cJSON_IsString(dtype) ? dtype->valuestring : "of no dtype");
  const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
  int64_t dims[MN_SNAPSHOT_MAX_DIMS];
  int ndims = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1, same = ndims == t->ndims;
  if (ndims < 0 || ndims > MN_SNAPSHOT_MAX_DIMS)
    return mn_error(MN_ERR_DATA, "%s: %s: bad shape", f->path, t->name);
  for (int d = 0; d < ndims; d++) {
    const cJSON *v = cJSON_GetArrayItem(shape, d);
    dims[d] = cJSON_IsNumber(v) ? (int64_t)v->valuedouble : -1;
    same = same && dims[d] == t->dims[d];
  }
  if (!same) {
    char have[96], want[96];
    shape_text(dims, ndims, have, sizeof have);
    shape_text(t->dims, t->ndims, want, sizeof want);
    return mn_error(MN_ERR_DATA, "%s: %s is %s in the file, %s here", f->path, t->name, have, want);
  }
  int64_t begin, end, nbytes = nelems(t) * (int64_t)sizeof(float);
  entry_offsets(f, e, &begin, &end); /* checked by file_open */
  if (end - begin != nbytes)
    return mn_error(MN_ERR_DATA, "%s: %s: %" PRId64 " data bytes for %" PRId64 " floats", f->path,
                    t->name, end - begin, nbytes / (int64_t)sizeof(float));
  for (int64_t done = 0; done < nbytes;) {
    ssize_t r =
        pread(f->fd, (char *)t->data + done, (size_t)(nbytes - done), f->data_start + begin + done);
    if (r <= 0)
      return mn_error(MN_ERR_DATA, "%s: %s: cannot read: %s", f->path, t->name,
                      r < 0 ? strerror(errno) : "the file ends early");
    done += r;
  }
  return MN_OK;
}

mn_status_t mn_safetensors_read(const char *path, mn_snapshot_tensor_t *t, int n) {
  file_t f;
  mn_status_t st = file_open(path, &f);
  if (st != MN_OK) return st; /* (closed) */
  for (int i = 0; st == MN_OK && i < n; i++) st = read_one(&f, &t[i]);
  file_close(&f);
  return st;
}

mn_status_t mn_safetensors_metadata(const char *path, const char *key, char *value, size_t len) {
  file_t f;
  mn_status_t st = file_open(path, &f);
  if (st != MN_OK) return st;
  const cJSON *md = cJSON_GetObjectItemCaseSensitive(f.header, "__metadata__");
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(md, key);
  snprintf(value, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
  file_close(&f);
  return MN_OK;
}
