/* prep_npy.c: mnprep npy's input: NumPy arrays x [N, D] and y [N].
 *
 * Either two .npy files (--x X.npy --y Y.npy) or one .npz archive (--in F.npz) holding
 * x.npy and y.npy (np.savez or np.savez_compressed; other array names with --x NAME
 * --y NAME), read through libzip. The .npy format (version 1, 2 or 3): the magic
 * "\x93NUMPY", a version, a header length, a Python dict literal with 'descr',
 * 'fortran_order' and 'shape', then the raw elements. x must be float32 or float64
 * ('<f4', '<f8'), y any integer kind ('i1'...'u8'), both little-endian and in C order; a
 * Fortran-order, object, structured or big-endian array is refused saying how to convert
 * it. The arrays are streamed a row at a time, every value checked, never held whole.
 * It does not split or write anything (prep_write.c does). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

#include "prep.h"

typedef struct npy {
  char name[PATH_MAX + 64]; /* for messages: "a.npy" or "a.npz:x.npy" */
  FILE *f;
  zip_file_t *z;
  char kind; /* 'f', 'i' or 'u' */
  int size;  /* bytes per element */
  int ndim;
  int64_t shape[2];
} npy_t;

static mn_status_t npy_bytes(npy_t *a, void *buf, size_t n) {
  size_t got = a->f ? fread(buf, 1, n, a->f) : 0;
  if (a->z) {
    zip_int64_t r = zip_fread(a->z, buf, n);
    got = r < 0 ? 0 : (size_t)r;
  }
  if (got != n)
    return mn_error(MN_ERR_DATA, "%s: truncated (%s)", a->name,
                    a->f && ferror(a->f) ? strerror(errno) : "ends before its last element");
  return MN_OK;
}

/* The value after 'key': in the header dict, or NULL. */
static const char *dict_value(const char *hdr, const char *key) {
  char k[32];
  snprintf(k, sizeof k, "'%s':", key);
  const char *p = strstr(hdr, k);
  if (!p) return NULL;
  p += strlen(k);
  while (*p == ' ') p++;
  return p;
}

static mn_status_t npy_header(npy_t *a) {
  unsigned char pre[10];
  mn_status_t st = npy_bytes(a, pre, 8);
  if (st != MN_OK || memcmp(pre, "\x93NUMPY", 6) != 0)
    return mn_error(MN_ERR_DATA, "%s: not a .npy array (no \\x93NUMPY magic)", a->name);
  uint32_t hlen;
  if (pre[6] == 1) {
    st = npy_bytes(a, pre + 8, 2);
    hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
  } else if (pre[6] == 2 || pre[6] == 3) {
    unsigned char l[4];
    st = npy_bytes(a, l, 4);
    hlen = (uint32_t)l[0] | (uint32_t)l[1] << 8 | (uint32_t)l[2] << 16 | (uint32_t)l[3] << 24;
  } else {
    return mn_error(MN_ERR_DATA, "%s: .npy version %d is not supported (1, 2 or 3)", a->name,
                    pre[6]);
  }
  if (st != MN_OK) return st;
  if (hlen > (1u << 20)) return mn_error(MN_ERR_DATA, "%s: .npy header too long", a->name);
  char *hdr = malloc(hlen + 1);
  if (!hdr) return mn_error(MN_ERR_NOMEM, "out of memory");
  st = npy_bytes(a, hdr, hlen);
  hdr[st == MN_OK ? hlen : 0] = '\0';
  const char *descr = dict_value(hdr, "descr"), *fo = dict_value(hdr, "fortran_order");
  const char *shape = dict_value(hdr, "shape");
  char order = 0;
  if (st == MN_OK && (!descr || !fo || !shape))
    st = mn_error(MN_ERR_DATA, "%s: .npy header lacks descr, fortran_order or shape", a->name);
  if (st == MN_OK && *descr != '\'')
    st = mn_error(MN_ERR_DATA, "%s: a structured array (descr %.40s) is not supported", a->name,
                  descr);
  if (st == MN_OK) {
    descr++;
    order = *descr;
    if (order == '<' || order == '|' || order == '=' || order == '>') descr++;
    a->kind = *descr;
    a->size = atoi(descr + 1);
    if (a->kind == 'O')
      st = mn_error(MN_ERR_DATA,
                    "%s: an object array (dtype=object) is not supported: save numbers, e.g. "
                    "np.save(f, a.astype(np.float32))",
                    a->name);
    else if (order == '>' && a->size > 1)
      st = mn_error(MN_ERR_DATA,
                    "%s: a big-endian array is not supported: save "
                    "a.astype(a.dtype.newbyteorder('<'))",
                    a->name);
  }
  if (st == MN_OK && strncmp(fo, "False", 5) != 0)
    st = mn_error(MN_ERR_DATA,
                  "%s: a Fortran-order array is not supported: save np.ascontiguousarray(a)",
                  a->name);
  if (st == MN_OK) {
    const char *p = strchr(shape, '(');
    a->ndim = 0;
    for (p = p ? p + 1 : shape; st == MN_OK && *p && *p != ')';) {
      char *end;
      long long v = strtoll(p, &end, 10);
      if (end == p) break;
      if (a->ndim == 2 || v < 0) {
        a->ndim = 3;
        break;
      }
      a->shape[a->ndim++] = v;
      p = end;
      while (*p == ',' || *p == ' ') p++;
    }
  }
  free(hdr);
  return st;
}

static mn_status_t npy_open_file(npy_t *a, const char *path) {
  snprintf(a->name, sizeof a->name, "%s", path);
  a->f = fopen(path, "rb");
  if (!a->f)
    return mn_error(MN_ERR_NOINPUT, "%s: %s", path,
                    errno == ENOENT ? "no such file" : strerror(errno));
  return npy_header(a);
}

static mn_status_t npy_open_zip(npy_t *a, zip_t *za, const char *zpath, const char *array) {
  char member[256];
  snprintf(member, sizeof member, "%s.npy", array);
  snprintf(a->name, sizeof a->name, "%s:%s", zpath, member);
  a->z = zip_fopen(za, member, 0);
  if (!a->z) {
    char names[256] = "";
    size_t n = 0;
    zip_int64_t k = zip_get_num_entries(za, 0);
    for (zip_int64_t i = 0; i < k && n < sizeof names - 1; i++)
      n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", i ? ", " : "",
                            zip_get_name(za, (zip_uint64_t)i, 0));
    return mn_error(MN_ERR_DATA, "%s: no array '%s' (member %s; it holds: %s)", zpath, array,
                    member, k > 0 ? names : "nothing");
  }
  return npy_header(a);
}

static void npy_close(npy_t *a) {
  if (a->f) fclose(a->f);
  if (a->z) zip_fclose(a->z);
  a->f = NULL;
  a->z = NULL;
}

static double elem_f(const npy_t *a, const unsigned char *p) {
  if (a->size == 4) {
    float v;
    memcpy(&v, p, 4);
    return v;
  }
  double v;
  memcpy(&v, p, 8);
  return v;
}

/* An integer element; out: *over when it does not fit int64. */
static int64_t elem_i(const npy_t *a, const unsigned char *p, int *over) {
  uint64_t u = 0;
  for (int b = a->size - 1; b >= 0; b--) u = u << 8 | p[b];
  *over = 0;
  if (a->kind == 'u') {
    *over = u > INT64_MAX;
    return (int64_t)u;
  }
  int bits = a->size * 8;
  if (bits < 64 && (u >> (bits - 1)) & 1) u |= ~UINT64_C(0) << bits; /* sign-extend */
  return (int64_t)u;
}

static mn_status_t npy_check(const npy_t *x, const npy_t *y) {
  if (x->kind != 'f' || (x->size != 4 && x->size != 8))
    return mn_error(MN_ERR_DATA,
                    "%s: x must be float32 or float64 (dtype '%c%d'): save "
                    "x.astype(np.float32)",
                    x->name, x->kind, x->size);
  if ((y->kind != 'i' && y->kind != 'u') ||
      !(y->size == 1 || y->size == 2 || y->size == 4 || y->size == 8))
    return mn_error(MN_ERR_DATA,
                    "%s: y must be an integer array (dtype '%c%d'): save "
                    "y.astype(np.int32)",
                    y->name, y->kind, y->size);
  if (x->ndim != 2)
    return mn_error(MN_ERR_DATA, "%s: x must have 2 dimensions [N, D], it has %d", x->name,
                    x->ndim);
  if (y->ndim != 1)
    return mn_error(MN_ERR_DATA, "%s: y must have 1 dimension [N], it has %d", y->name, y->ndim);
  if (x->shape[0] != y->shape[0])
    return mn_error(MN_ERR_DATA, "%s has %lld rows but %s has %lld", x->name,
                    (long long)x->shape[0], y->name, (long long)y->shape[0]);
  if (x->shape[1] < 1 || x->shape[1] > (1 << 24))
    return mn_error(MN_ERR_DATA, "%s: D = %lld is outside [1, 16777216]", x->name,
                    (long long)x->shape[1]);
  return MN_OK;
}

mn_status_t npy_read(const prep_opts_t *o, spool_t *sp) {
  npy_t x = {0}, y = {0};
  zip_t *za = NULL;
  unsigned char *row = NULL;
  float *fx = NULL;
  mn_status_t st;
  if (o->in) {
    int err = 0;
    za = zip_open(o->in, ZIP_RDONLY, &err);
    if (!za)
      return err == ZIP_ER_NOENT ? mn_error(MN_ERR_NOINPUT, "%s: no such file", o->in)
             : err == ZIP_ER_OPEN || err == ZIP_ER_READ
                 ? mn_error(MN_ERR_NOINPUT, "%s: cannot read: %s", o->in, strerror(errno))
                 : mn_error(MN_ERR_DATA, "%s: not an .npz (zip) archive", o->in);
    st = npy_open_zip(&x, za, o->in, o->x ? o->x : "x");
    if (st == MN_OK) st = npy_open_zip(&y, za, o->in, o->y ? o->y : "y");
  } else {
    st = npy_open_file(&x, o->x);
    if (st == MN_OK) st = npy_open_file(&y, o->y);
  }
  if (st == MN_OK) st = npy_check(&x, &y);
  if (st != MN_OK) goto cleanup;
  int dim = (int)x.shape[1];
  row = malloc((size_t)dim * (size_t)x.size);
  fx = malloc((size_t)dim * sizeof *fx);
  if (!row || !fx) {
    st = mn_error(MN_ERR_NOMEM, "out of memory");
    goto cleanup;
  }
  st = spool_start(sp, o->out, dim);
  for (int64_t i = 0; i < x.shape[0] && st == MN_OK; i++) {
    unsigned char yb[8];
    st = npy_bytes(&x, row, (size_t)dim * (size_t)x.size);
    if (st == MN_OK) st = npy_bytes(&y, yb, (size_t)y.size);
    for (int d = 0; d < dim && st == MN_OK; d++) {
      double v = elem_f(&x, row + (size_t)d * x.size);
      fx[d] = (float)v;
      if (!isfinite(v))
        st = mn_error(MN_ERR_NONFINITE, "%s: row %lld: feature %d is NaN or infinite", x.name,
                      (long long)i, d);
      else if (!isfinite(fx[d]))
        st = mn_error(MN_ERR_NONFINITE,
                      "%s: row %lld: feature %d (%g) is out of the float32 "
                      "range",
                      x.name, (long long)i, d, v);
    }
    if (st != MN_OK) break;
    int over;
    int64_t v = elem_i(&y, yb, &over);
    char where[PATH_MAX + 96];
    snprintf(where, sizeof where, "%s: row %lld", y.name, (long long)i);
    st = over ? mn_error(MN_ERR_DATA, "%s: label is out of range (at most %d)", where,
                         MN_PREP_MAX_CLASSES - 1)
              : label_check(o, where, v);
    if (st == MN_OK) st = spool_push(sp, fx, (int32_t)v);
  }
  if (st == MN_OK && sp->n == 0) st = mn_error(MN_ERR_DATA, "%s: no rows", x.name);
cleanup:
  npy_close(&x);
  npy_close(&y);
  if (za) zip_discard(za);
  free(row);
  free(fx);
  return st;
}
