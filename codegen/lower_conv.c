/* lower_conv.c — nodes lowered to runtime/conv.c: Conv-11 of 1-D and 2-D inputs (isbrt_conv2d, with
 * the _act/_residual epilogue of passes/fuse_conv.c and pre-packed weights). */
#include "lower.h"

int emit_conv(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *wt = vtype(c, n->in[1]), *yt = vtype(c, n->out[0]);
    if (wt->rank != xt->rank) return cg_fail(c, "weight rank %d", wt->rank);
    int sp = xt->rank - 2;
    int64_t kernel[2] = {wt->dims[2], sp == 2 ? wt->dims[3] : 1};
    Win w;
    if (window(c, n, xt, yt, kernel, &w) < 0) return -1;
    isbrt_conv p;
    memset(&p, 0, sizeof p);
    p.c_in = xt->dims[1];
    p.h = w.h, p.w = w.w, p.c_out = wt->dims[0], p.kh = w.kh, p.kw = w.kw;
    p.oh = w.oh, p.ow = w.ow, p.stride_h = w.sh, p.stride_w = w.sw;
    p.pad_t = w.pt, p.pad_l = w.pl, p.pad_b = w.pb, p.pad_r = w.pr;
    p.dil_h = w.dh, p.dil_w = w.dw;
    p.group = attr_int(n, "group", 1);
    if (p.group < 1 || p.c_in % p.group || p.c_out % p.group || wt->dims[1] * p.group != p.c_in)
        return cg_fail(c, "group %" PRId64 " does not divide the channels", p.group);
    if (parse_act(c, n, &p.act) < 0) return -1;
    /* Constant weights go in the kernel's packed form (Winograd's transformed weights), so
     * the work is done once here instead of on every run; the original global is then
     * unused and dropped by the optimiser. The runtime is called to pack: it owns the form. */
    const Value *wv = gval(c->g, n->in[1]);
    const size_t packed_size = isbrt_conv2d_packed_size(&p);
    LLVMValueRef packed = NULL;
    if (packed_size > 0 && (wv->flags & VAL_CONST) && wv->data && cg_ptr(c, n->out[0])) {
        float *buf = malloc(packed_size);
        if (!buf) return cg_fail(c, "out of memory packing the weights");
        isbrt_conv2d_pack(&p, wv->data, buf);
        char name[300];
        snprintf(name, sizeof name, "wpack.%s", wv->name);
        packed = cg_const_bytes(c, buf, packed_size, 64, name);
        free(buf);
        p.packed = 1;
    }
    return conv_call(c, n, PARAM(c, p), "isbrt_conv2d_scratch", "isbrt_conv2d", "isbrt_conv2d_team",
                     packed);
}
