/* tensor_io.c — tensor files: ONNX TensorProto (.pb, as in the ONNX backend test data) and
 * NumPy .npy (format versions 1.0, 2.0 and 3.0, little-endian, C order), chosen by the file
 * name's extension. Reading validates every size against the file, so a truncated or
 * corrupt file is an error, never a crash. Also decodes TensorProtos for the importer. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

int read_whole_file(const char *path, uint8_t **buf, size_t *len, Diag *d) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return diag(d, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return diag(d, "%s: not a regular file", path);
    }
    if (st.st_size == 0) {
        fclose(f);
        return diag(d, "%s: empty file", path);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *b = malloc(n);
    if (!b || fread(b, 1, n, f) != n) {
        free(b);
        fclose(f);
        return diag(d, "%s: cannot read", path);
    }
    fclose(f);
    *buf = b;
    *len = n;
    return 0;
}

/* ---- TensorProto ------------------------------------------------------------------------ */

/* Bytes of a tensor with these dims, or -1 if a dim is negative or the size is absurd. */
static int64_t dense_bytes(int rank, const int64_t *dims, size_t esize) {
    int64_t n = (int64_t)esize;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0) return -1;
        if (dims[i] != 0 && n > ((int64_t)1 << 46) / dims[i]) return -1;
        n *= dims[i];
    }
    return n;
}

static const char *tp_name(const Onnx__TensorProto *tp) {
    return tp->name && *tp->name ? tp->name : "(unnamed)";
}

/* A decimal non-negative integer, the whole string. */
static bool parse_u63(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    int64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10) return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

/* External data (ONNX IR, "External tensor data"): keys location, offset, length, relative
 * to the model's directory. The location may not leave that directory. *dst is malloc'ed only
 * once the file is known to hold the bytes. */
static int read_external(const Onnx__TensorProto *tp, const char *dir, void **dst, int64_t bytes,
                         Diag *d) {
    const char *name = tp_name(tp);
    if (!dir) return diag(d, "tensor '%s': external data is not allowed here", name);
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
        if (!k || !v) continue;
        if (!strcmp(k, "location"))
            loc = v;
        else if (!strcmp(k, "offset") && !parse_u63(v, &off))
            return diag(d, "tensor '%s': bad external data offset '%s'", name, v);
        else if (!strcmp(k, "length") && !parse_u63(v, &len))
            return diag(d, "tensor '%s': bad external data length '%s'", name, v);
    }
    if (!loc || !*loc) return diag(d, "tensor '%s': external data without a location", name);
    if (loc[0] == '/')
        return diag(d, "tensor '%s': external data location '%s' is an absolute path", name, loc);
    for (const char *p = loc; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return diag(d, "tensor '%s': external data location '%s' leaves the model directory",
                        name, loc);
        p += n + (p[n] == '/');
    }
    if (len >= 0 && len != bytes)
        return diag(d, "tensor '%s': external data length %lld, expected %lld bytes", name,
                    (long long)len, (long long)bytes);

    size_t plen = strlen(dir) + strlen(loc) + 2;
    char *path = malloc(plen);
    snprintf(path, plen, "%s/%s", dir, loc);
    /* Symbolic links may still point out of the model directory. */
    char *rdir = realpath(dir, NULL), *rpath = realpath(path, NULL);
    int rc = 0;
    if (!rdir || !rpath) {
        rc =
            diag(d, "tensor '%s': cannot open external data '%s': %s", name, path, strerror(errno));
    } else if (strncmp(rpath, rdir, strlen(rdir)) != 0 ||
               (rpath[strlen(rdir)] != '/' && strcmp(rdir, "/") != 0)) {
        rc = diag(d, "tensor '%s': external data location '%s' leaves the model directory", name,
                  loc);
    } else {
        FILE *f = fopen(rpath, "rb");
        struct stat st;
        if (!f) {
            rc = diag(d, "tensor '%s': cannot open external data '%s': %s", name, path,
                      strerror(errno));
        } else if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || off > st.st_size ||
                   bytes > st.st_size - off) {
            rc = diag(d, "tensor '%s': external data file '%s' is too short (%lld bytes at %lld)",
                      name, path, (long long)bytes, (long long)off);
        } else if (!(*dst = malloc((size_t)bytes)) || fseeko(f, (off_t)off, SEEK_SET) != 0 ||
                   fread(*dst, 1, (size_t)bytes, f) != (size_t)bytes) {
            free(*dst);
            *dst = NULL;
            rc = diag(d, "tensor '%s': cannot read external data '%s'", name, path);
        }
        if (f) fclose(f);
    }
    free(rdir);
    free(rpath);
    free(path);
    return rc;
}

static int count_mismatch(Diag *d, const Onnx__TensorProto *tp, const char *field, size_t got,
                          int64_t want) {
    return diag(d, "tensor '%s': %s has %zu values, expected %lld", tp_name(tp), field, got,
                (long long)want);
}

int tensor_from_proto(const Onnx__TensorProto *tp, const char *dir, Type *t, void **data, Diag *d) {
    *data = NULL;
    const char *name = tp_name(tp);
    int dt = tp->has_data_type ? tp->data_type : DT_UNDEF;
    if (dt == DT_UNDEF) return diag(d, "tensor '%s': no data type", name);
    if (dt == DT_STRING) return diag(d, "unsupported: string tensor '%s'", name);
    if (dt < 0 || dt >= DT_COUNT || dtype_size(dt) == 0)
        return diag(d, "unsupported: tensor '%s' of data type %d", name, dt);
    if (tp->segment) return diag(d, "unsupported: segmented tensor '%s'", name);
    if (tp->n_dims > IR_MAX_RANK)
        return diag(d, "tensor '%s': rank %zu exceeds %d", name, tp->n_dims, IR_MAX_RANK);
    size_t es = dtype_size(dt);
    int rank = (int)tp->n_dims;
    int64_t bytes = dense_bytes(rank, tp->dims, es);
    if (bytes < 0) return diag(d, "tensor '%s': bad or too large dims", name);
    int64_t n = bytes / (int64_t)es;
    *t = type_make(dt, rank, tp->dims);

    bool external =
        tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    /* Check counts before allocating: the allocation is bounded by what the file holds. */
    const char *field = NULL;
    size_t got = 0;
    if (external) {
    } else if (tp->has_raw_data) {
        if ((int64_t)tp->raw_data.len != bytes)
            return diag(d, "tensor '%s': raw_data has %zu bytes, expected %lld", name,
                        tp->raw_data.len, (long long)bytes);
    } else {
        switch (dt) {
        case DT_F32: field = "float_data", got = tp->n_float_data; break;
        case DT_F64: field = "double_data", got = tp->n_double_data; break;
        case DT_I64: field = "int64_data", got = tp->n_int64_data; break;
        case DT_U32:
        case DT_U64: field = "uint64_data", got = tp->n_uint64_data; break;
        default: field = "int32_data", got = tp->n_int32_data; break;
        }
        if ((int64_t)got != n) return count_mismatch(d, tp, field, got, n);
    }
    if (bytes == 0) return 0;
    if (external) return read_external(tp, dir, data, bytes, d);
    uint8_t *buf = malloc((size_t)bytes);
    if (!buf) return diag(d, "tensor '%s': out of memory (%lld bytes)", name, (long long)bytes);
    if (tp->has_raw_data) {
        memcpy(buf, tp->raw_data.data, (size_t)bytes);
    } else {
        for (int64_t i = 0; i < n; i++) {
            switch (dt) {
            case DT_F32: ((float *)buf)[i] = tp->float_data[i]; break;
            case DT_F64: ((double *)buf)[i] = tp->double_data[i]; break;
            case DT_I64: ((int64_t *)buf)[i] = tp->int64_data[i]; break;
            case DT_U32: ((uint32_t *)buf)[i] = (uint32_t)tp->uint64_data[i]; break;
            case DT_U64: ((uint64_t *)buf)[i] = tp->uint64_data[i]; break;
            case DT_I32: ((int32_t *)buf)[i] = tp->int32_data[i]; break;
            case DT_I16: ((int16_t *)buf)[i] = (int16_t)tp->int32_data[i]; break;
            case DT_F16: /* the bits of each half, as TensorProto stores them */
            case DT_U16: ((uint16_t *)buf)[i] = (uint16_t)tp->int32_data[i]; break;
            case DT_I8: ((int8_t *)buf)[i] = (int8_t)tp->int32_data[i]; break;
            case DT_U8: buf[i] = (uint8_t)tp->int32_data[i]; break;
            case DT_BOOL: buf[i] = tp->int32_data[i] != 0; break;
            default: assert(!"dtype without a data field");
            }
        }
    }
    *data = buf;
    return 0;
}

static int pb_read(const char *path, Tensor *t, Diag *d) {
    uint8_t *buf;
    size_t len;
    if (read_whole_file(path, &buf, &len, d) < 0) return -1;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp) return diag(d, "%s: not a TensorProto (corrupt or truncated protobuf)", path);
    char *dir = strdup(path), *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        strcpy(dir, ".");
    int rc = tensor_from_proto(tp, dir, &t->type, &t->data, d);
    free(dir);
    if (rc == 0 && tp->name && *tp->name) t->name = strdup(tp->name);
    onnx__tensor_proto__free_unpacked(tp, NULL);
    if (rc < 0) {
        char msg[sizeof d->msg];
        snprintf(msg, sizeof msg, "%s", d ? d->msg : "");
        return diag(d, "%s: %s", path, msg);
    }
    return 0;
}

static int write_bytes(const char *path, const void *a, size_t na, const void *b, size_t nb,
                       Diag *d) {
    FILE *f = fopen(path, "wb");
    if (!f) return diag(d, "%s: cannot create: %s", path, strerror(errno));
    bool ok = fwrite(a, 1, na, f) == na && (nb == 0 || fwrite(b, 1, nb, f) == nb);
    if (fclose(f) != 0) ok = false;
    return ok ? 0 : diag(d, "%s: write failed", path);
}

static int64_t tensor_bytes(const Tensor *t, const char *path, Diag *d) {
    const Type *ty = &t->type;
    if (ty->rank < 0 || ty->rank > IR_MAX_RANK || dtype_size(ty->dtype) == 0)
        return diag(d, "%s: cannot write a tensor of unknown type", path);
    int64_t b = dense_bytes(ty->rank, ty->dims, dtype_size(ty->dtype));
    if (b < 0) return diag(d, "%s: cannot write a tensor with symbolic or unknown dims", path);
    if (b > 0 && !t->data) return diag(d, "%s: tensor has no data", path);
    return b;
}

static int pb_write(const char *path, const Tensor *t, Diag *d) {
    int64_t bytes = tensor_bytes(t, path, d);
    if (bytes < 0) return -1;
    Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
    tp.n_dims = (size_t)t->type.rank;
    tp.dims = (int64_t *)t->type.dims;
    tp.has_data_type = 1;
    tp.data_type = t->type.dtype;
    tp.name = t->name;
    tp.has_raw_data = 1;
    tp.raw_data.len = (size_t)bytes;
    tp.raw_data.data = t->data;
    size_t n = onnx__tensor_proto__get_packed_size(&tp);
    uint8_t *buf = malloc(n ? n : 1);
    onnx__tensor_proto__pack(&tp, buf);
    int rc = write_bytes(path, buf, n, NULL, 0, d);
    free(buf);
    return rc;
}

/* ---- NumPy .npy (numpy.lib.format) --------------------------------------------------- */

static const struct {
    const char *descr;
    int dtype;
} npy_types[] = {
    {"<f4", DT_F32}, {"<f8", DT_F64}, {"<i8", DT_I64},  {"<i4", DT_I32},
    {"<i2", DT_I16}, {"<u2", DT_U16}, {"<u4", DT_U32},  {"<u8", DT_U64},
    {"|i1", DT_I8},  {"|u1", DT_U8},  {"|b1", DT_BOOL}, {"<f2", DT_F16},
};

typedef struct NpyParser {
    const char *p, *end;
} NpyParser;

static void npy_ws(NpyParser *q) {
    while (q->p < q->end && (*q->p == ' ' || *q->p == '\t' || *q->p == '\n' || *q->p == '\r'))
        q->p++;
}

static bool npy_eat(NpyParser *q, char c) {
    npy_ws(q);
    if (q->p < q->end && *q->p == c) {
        q->p++;
        return true;
    }
    return false;
}

/* A Python string literal ('...' or "...", no escapes needed for the keys and descrs). */
static bool npy_str(NpyParser *q, char *out, size_t cap) {
    npy_ws(q);
    if (q->p >= q->end || (*q->p != '\'' && *q->p != '"')) return false;
    char quote = *q->p++;
    size_t n = 0;
    while (q->p < q->end && *q->p != quote) {
        if (n + 1 >= cap) return false;
        out[n++] = *q->p++;
    }
    if (q->p >= q->end) return false;
    q->p++;
    out[n] = 0;
    return true;
}

/* The header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } */
static int npy_header(const char *path, const char *h, size_t len, Type *t, Diag *d) {
    NpyParser q = {h, h + len};
    char key[32], descr[32] = "";
    int have = 0, rank = 0;
    int64_t dims[IR_MAX_RANK];
    bool fortran = false;
    if (!npy_eat(&q, '{')) return diag(d, "%s: bad .npy header", path);
    while (!npy_eat(&q, '}')) {
        if (!npy_str(&q, key, sizeof key) || !npy_eat(&q, ':'))
            return diag(d, "%s: bad .npy header", path);
        npy_ws(&q);
        if (!strcmp(key, "descr")) {
            if (!npy_str(&q, descr, sizeof descr))
                return diag(d, "%s: unsupported .npy dtype (structured arrays are not)", path);
            have |= 1;
        } else if (!strcmp(key, "fortran_order")) {
            size_t rest = (size_t)(q.end - q.p);
            if (rest >= 4 && !memcmp(q.p, "True", 4))
                fortran = true, q.p += 4;
            else if (rest >= 5 && !memcmp(q.p, "False", 5))
                q.p += 5;
            else
                return diag(d, "%s: bad fortran_order in .npy header", path);
            have |= 2;
        } else if (!strcmp(key, "shape")) {
            if (!npy_eat(&q, '(')) return diag(d, "%s: bad shape in .npy header", path);
            while (!npy_eat(&q, ')')) {
                npy_ws(&q);
                int64_t v = 0;
                const char *start = q.p;
                while (q.p < q.end && *q.p >= '0' && *q.p <= '9') {
                    if (v > (INT64_MAX - 9) / 10)
                        return diag(d, "%s: dim too large in .npy header", path);
                    v = v * 10 + (*q.p++ - '0');
                }
                if (q.p == start) return diag(d, "%s: bad shape in .npy header", path);
                if (q.p < q.end && *q.p == 'L') q.p++; /* Python 2 long */
                if (rank == IR_MAX_RANK)
                    return diag(d, "%s: .npy array has more than %d dims", path, IR_MAX_RANK);
                dims[rank++] = v;
                if (!npy_eat(&q, ',')) {
                    if (!npy_eat(&q, ')')) return diag(d, "%s: bad shape in .npy header", path);
                    break;
                }
            }
            have |= 4;
        } else {
            return diag(d, "%s: unexpected key '%s' in .npy header", path, key);
        }
        if (!npy_eat(&q, ',')) {
            if (!npy_eat(&q, '}')) return diag(d, "%s: bad .npy header", path);
            break;
        }
    }
    if (have != 7) return diag(d, "%s: .npy header lacks descr, fortran_order or shape", path);
    if (fortran)
        return diag(d, "%s: unsupported: Fortran-order .npy array (save it C-contiguous)", path);
    if (descr[0] == '>') return diag(d, "%s: unsupported: big-endian .npy dtype '%s'", path, descr);
    int dt = DT_UNDEF;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (!strcmp(descr, npy_types[i].descr)) dt = npy_types[i].dtype;
    if (dt == DT_UNDEF) return diag(d, "%s: unsupported .npy dtype '%s'", path, descr);
    *t = type_make(dt, rank, dims);
    return 0;
}

static int npy_read(const char *path, Tensor *t, Diag *d) {
    uint8_t *buf;
    size_t len;
    if (read_whole_file(path, &buf, &len, d) < 0) return -1;
    int rc = -1;
    size_t hdr, hlen;
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        diag(d, "%s: not a .npy file (bad magic)", path);
        goto out;
    }
    if (buf[6] == 1) {
        hdr = 10;
        hlen = buf[8] | (size_t)buf[9] << 8;
    } else if (buf[6] == 2 || buf[6] == 3) {
        if (len < 12) {
            diag(d, "%s: truncated .npy header", path);
            goto out;
        }
        hdr = 12;
        hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    } else {
        diag(d, "%s: unsupported .npy format version %d.%d", path, buf[6], buf[7]);
        goto out;
    }
    if (hlen > len - hdr) {
        diag(d, "%s: truncated .npy header", path);
        goto out;
    }
    if (npy_header(path, (const char *)buf + hdr, hlen, &t->type, d) < 0) goto out;
    int64_t bytes = dense_bytes(t->type.rank, t->type.dims, dtype_size(t->type.dtype));
    size_t have = len - hdr - hlen;
    if (bytes < 0) {
        diag(d, "%s: .npy array too large", path);
    } else if ((int64_t)have != bytes) {
        diag(d, "%s: .npy data has %zu bytes, expected %lld%s", path, have, (long long)bytes,
             (int64_t)have < bytes ? " (truncated)" : "");
    } else {
        t->data = bytes ? malloc((size_t)bytes) : NULL;
        if (bytes) memcpy(t->data, buf + hdr + hlen, (size_t)bytes);
        rc = 0;
    }
out:
    free(buf);
    return rc;
}

static int npy_write(const char *path, const Tensor *t, Diag *d) {
    int64_t bytes = tensor_bytes(t, path, d);
    if (bytes < 0) return -1;
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dtype == t->type.dtype) descr = npy_types[i].descr;
    if (!descr) return diag(d, "%s: cannot write %s data as .npy", path, dtype_name(t->type.dtype));
    /* Format 1.0: magic, version, u16 header length, dict padded with spaces to a multiple
     * of 64 bytes and ended by a newline. */
    char h[512];
    int n = snprintf(h + 10, sizeof h - 10, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < t->type.rank; i++)
        n += snprintf(h + 10 + n, sizeof h - 10 - (size_t)n, "%lld%s", (long long)t->type.dims[i],
                      t->type.rank == 1      ? ","
                      : i + 1 < t->type.rank ? ", "
                                             : "");
    n += snprintf(h + 10 + n, sizeof h - 10 - (size_t)n, "), }");
    int total = (10 + n + 1 + 63) / 64 * 64;
    memset(h + 10 + n, ' ', (size_t)(total - 10 - n));
    h[total - 1] = '\n';
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    h[8] = (char)((total - 10) & 0xff);
    h[9] = (char)((total - 10) >> 8);
    return write_bytes(path, h, (size_t)total, t->data, (size_t)bytes, d);
}

/* ---- dispatch ---------------------------------------------------------------------------- */

static const char *ext_of(const char *path) {
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) ? dot : "";
}

int tensor_read(const char *path, Tensor *t, Diag *d) {
    memset(t, 0, sizeof *t);
    const char *ext = ext_of(path);
    int rc;
    if (!strcasecmp(ext, ".pb"))
        rc = pb_read(path, t, d);
    else if (!strcasecmp(ext, ".npy"))
        rc = npy_read(path, t, d);
    else
        return diag(d, "%s: unknown tensor file extension (expected .pb or .npy)", path);
    if (rc < 0) tensor_free(t);
    return rc;
}

int tensor_write(const char *path, const Tensor *t, Diag *d) {
    const char *ext = ext_of(path);
    if (!strcasecmp(ext, ".pb")) return pb_write(path, t, d);
    if (!strcasecmp(ext, ".npy")) return npy_write(path, t, d);
    return diag(d, "%s: unknown tensor file extension (expected .pb or .npy)", path);
}

void tensor_free(Tensor *t) {
    free(t->data);
    free(t->name);
    memset(t, 0, sizeof *t);
}
