/* einsum.c — parsing of Einsum-12 equations ("bij,bjk->bik", "...ii->...i", "i,i") against
 * the input types: label numbering, label sizes (ellipsis dims broadcast numpy-style), and
 * the output labels (explicit after "->", else implicit as the ONNX spec describes). */
#include "ir.h"

#include <stdarg.h>
#include <string.h>

static int einsum_err(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int einsum_err(char *err, size_t len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* Letter -> slot 0..51; ellipsis dim k -> slot 52 + k. */
static int letter_slot(char ch) {
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return 26 + ch - 'a';
    return -1;
}

/* Size of a label seen again with size d (size 1 broadcasts for ellipsis dims). */
static int merge_dim(int64_t *have, int64_t d, bool ell) {
    if (*have == IR_DIM_UNKNOWN || *have == d) {
        *have = d;
        return 0;
    }
    if (ell && d == 1) return 0;
    if (ell && *have == 1) {
        *have = d;
        return 0;
    }
    return -1;
}

int einsum_parse(const char *eq, int nin, const Type *const *ins, EinsumSpec *s, char *err,
                 size_t errlen) {
    char buf[512];
    size_t k = 0;
    for (const char *p = eq; *p; p++)
        if (*p != ' ' && k + 1 < sizeof buf) buf[k++] = *p;
    buf[k] = 0;
    memset(s, 0, sizeof *s);
    if (nin < 1 || nin > EINSUM_MAX_IN)
        return einsum_err(err, errlen, "%d inputs (1 to %d supported)", nin, EINSUM_MAX_IN);
    char *arrow = strstr(buf, "->");
    char *rhs = NULL;
    if (arrow) {
        *arrow = 0;
        rhs = arrow + 2;
    }
    int slot_id[52 + IR_MAX_RANK]; /* slot -> label id, -1 if unused */
    int64_t sdim[52 + IR_MAX_RANK];
    int count[52] = {0};
    for (int i = 0; i < 52 + IR_MAX_RANK; i++) slot_id[i] = -1, sdim[i] = IR_DIM_UNKNOWN;
    int term_slots[EINSUM_MAX_IN][IR_MAX_RANK];
    int ell = 0; /* ellipsis dims: the most any input has */
    char *term = buf;
    for (int t = 0; t < nin; t++) {
        char *end = strchr(term, ',');
        if ((t < nin - 1) != (end != NULL))
            return einsum_err(err, errlen, "equation '%s' does not have %d terms", eq, nin);
        if (end) *end = 0;
        const Type *ty = ins[t];
        int nletters = 0, has_ell = 0;
        for (char *p = term; *p; p++) {
            if (p[0] == '.' && p[1] == '.' && p[2] == '.') {
                if (has_ell++) return einsum_err(err, errlen, "two ellipses in one term");
                p += 2;
            } else if (letter_slot(*p) >= 0) {
                nletters++;
            } else {
                return einsum_err(err, errlen, "bad character '%c' in equation '%s'", *p, eq);
            }
        }
        int e = ty->rank - nletters;
        if (e < 0 || (!has_ell && e != 0))
            return einsum_err(err, errlen, "term %d has %d labels for an input of rank %d", t,
                              nletters, ty->rank);
        if (e > ell) ell = e;
        int ax = 0;
        for (char *p = term; *p; p++) {
            if (*p == '.') {
                for (int j = 0; j < e; j++) term_slots[t][ax++] = -(e - j); /* fixed below */
                p += 2;
            } else {
                term_slots[t][ax++] = letter_slot(*p);
                count[letter_slot(*p)]++;
            }
        }
        s->rank[t] = ty->rank;
        term = end ? end + 1 : term + strlen(term);
    }
    /* ellipsis dims right-aligned: the j-th of e dims is ellipsis dim ell - e + j */
    for (int t = 0; t < nin; t++)
        for (int a = 0; a < s->rank[t]; a++)
            if (term_slots[t][a] < 0) term_slots[t][a] = 52 + ell + term_slots[t][a];
    int out_slots[IR_MAX_RANK], nout = 0;
    if (rhs) {
        bool seen_ell = false;
        for (char *p = rhs; *p; p++) {
            if (p[0] == '.' && p[1] == '.' && p[2] == '.') {
                if (seen_ell) return einsum_err(err, errlen, "two ellipses in the output");
                seen_ell = true;
                for (int j = 0; j < ell && nout < IR_MAX_RANK; j++) out_slots[nout++] = 52 + j;
                p += 2;
            } else if (letter_slot(*p) >= 0 && count[letter_slot(*p)]) {
                if (nout == IR_MAX_RANK) return einsum_err(err, errlen, "output rank too high");
                for (int j = 0; j < nout; j++)
                    if (out_slots[j] == letter_slot(*p))
                        return einsum_err(err, errlen, "label '%c' twice in the output", *p);
                out_slots[nout++] = letter_slot(*p);
            } else {
                return einsum_err(err, errlen, "output label '%c' is not an input label", *p);
            }
        }
        if (ell && !seen_ell) {
            /* numpy sums the ellipsis dims away; keep it simple and exact */
            return einsum_err(err, errlen, "the output omits the ellipsis dims");
        }
    } else {
        for (int j = 0; j < ell; j++) out_slots[nout++] = 52 + j;
        for (int l = 0; l < 52; l++)
            if (count[l] == 1) {
                if (nout == IR_MAX_RANK) return einsum_err(err, errlen, "output rank too high");
                out_slots[nout++] = l;
            }
    }
    /* number labels in order of first appearance, merge their sizes */
    for (int t = 0; t < nin; t++)
        for (int a = 0; a < s->rank[t]; a++) {
            int sl = term_slots[t][a];
            if (slot_id[sl] < 0) slot_id[sl] = s->nlab++;
            if (merge_dim(&sdim[sl], ins[t]->dims[a], sl >= 52) < 0)
                return einsum_err(err, errlen, "label sizes disagree at input %d axis %d", t, a);
            s->lab[t][a] = slot_id[sl];
        }
    for (int sl = 0; sl < 52 + IR_MAX_RANK; sl++)
        if (slot_id[sl] >= 0) s->dims[slot_id[sl]] = sdim[sl];
    s->nin = nin;
    s->out_rank = nout;
    for (int j = 0; j < nout; j++) s->out_lab[j] = slot_id[out_slots[j]];
    return 0;
}
