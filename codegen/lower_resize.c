/* lower_resize.c — nodes lowered to runtime/resize.c: Resize-13 (and Upsample), GridSample-16,
 * RoiAlign-16. */
#include "lower.h"

/* Index of s in names[0..count), or -1. */
static int name_index(const char *s, const char *const *names, int count) {
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

int emit_resize(Cg *c, const Node *n) {
    if (need_f32(c, n, 1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {"half_pixel",           "pytorch_half_pixel",
                                         "align_corners",        "asymmetric",
                                         "tf_half_pixel_for_nn", "tf_crop_and_resize"};
    static const char *const nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"};
    isbrt_resize p;
    memset(&p, 0, sizeof p);
    const char *m = attr_string(n, "mode", "nearest"),
               *ct = attr_string(n, "coordinate_transformation_mode", "half_pixel"),
               *nm = attr_string(n, "nearest_mode", "round_prefer_floor");
    if ((p.mode = name_index(m, modes, 3)) < 0) return cg_fail(c, "mode '%s'", m);
    if ((p.coord = name_index(ct, coords, 6)) < 0)
        return cg_fail(c, "coordinate_transformation_mode '%s'", ct);
    if ((p.nearest = name_index(nm, nearest, 4)) < 0) return cg_fail(c, "nearest_mode '%s'", nm);
    p.exclude_outside = (int32_t)attr_int(n, "exclude_outside", 0);
    p.cubic_a = attr_float(n, "cubic_coeff_a", -0.75f);
    p.extrapolation = attr_float(n, "extrapolation_value", 0.0f);
    int r = xt->rank;
    p.rank = r;
    double sc[IR_MAX_RANK], roi[2 * IR_MAX_RANK];
    int64_t sizes[IR_MAX_RANK];
    int nsz = -1, nsc = -1, nroi = -1;
    if (!(n->nin > 3 && n->in[3] >= 0 &&
          value_const_ints(c->g, n->in[3], sizes, IR_MAX_RANK, &nsz) && nsz == r) &&
        !(n->nin > 2 && value_const_floats(c->g, n->in[2], sc, IR_MAX_RANK, &nsc) && nsc == r))
        return cg_fail(c, "scales or sizes must be constants of %d values", r);
    if (p.coord == ISBRT_COORD_TF_CROP_AND_RESIZE &&
        !(n->nin > 1 && value_const_floats(c->g, n->in[1], roi, 2 * IR_MAX_RANK, &nroi) &&
          nroi == 2 * r))
        return cg_fail(c, "tf_crop_and_resize needs a constant roi of %d values", 2 * r);
    SymInt batch = sym_const(1);
    for (int d = 0; d < r; d++) {
        p.in[d] = xt->dims[d], p.out[d] = yt->dims[d];
        p.scale[d] = nsz == r ? (double)p.out[d] / (double)p.in[d] : sc[d];
        p.roi_start[d] = nroi > 0 ? roi[d] : 0, p.roi_end[d] = nroi > 0 ? roi[r + d] : 1;
        if (xt->dims[d] == IR_DIM_N) {
            if (yt->dims[d] != IR_DIM_N) return cg_fail(c, "resizing the symbolic batch dim");
            p.in[d] = p.out[d] = 1, p.scale[d] = 1, batch = sym_dim(xt, d);
        }
        if (p.in[d] == 0 || p.out[d] == 0) return 0;
    }
    LLVMValueRef x, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0) return -1;
    LLVMValueRef param = PARAM(c, p);
    cg_add_scratch(c, "isbrt_resize_scratch", param);
    LLVMValueRef args[5] = {param, cg_sym(c, batch), x, y, c->ws};
    call(c, "isbrt_resize_f32", c->t_void, 5, args);
    return 0;
}

int emit_gridsample(Cg *c, const Node *n) {
    if (need_f32(c, n, -1) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]);
    static const char *const modes[] = {"bilinear", "nearest", "bicubic"};
    static const char *const pads[] = {"zeros", "border", "reflection"};
    isbrt_gridsample p;
    memset(&p, 0, sizeof p);
    const char *m = attr_string(n, "mode", "bilinear"),
               *pm = attr_string(n, "padding_mode", "zeros");
    if ((p.mode = name_index(m, modes, 3)) < 0) return cg_fail(c, "mode '%s'", m);
    if ((p.padding = name_index(pm, pads, 3)) < 0) return cg_fail(c, "padding_mode '%s'", pm);
    p.align_corners = (int32_t)attr_int(n, "align_corners", 0);
    p.c = xt->dims[1], p.h = xt->dims[2], p.w = xt->dims[3], p.oh = yt->dims[2], p.ow = yt->dims[3];
    LLVMValueRef x, g, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &g) < 0) return -1;
    LLVMValueRef args[5] = {PARAM(c, p), cg_sym(c, sym_dim(xt, 0)), x, g, y};
    call(c, "isbrt_gridsample_f32", c->t_void, 5, args);
    return 0;
}

int emit_roialign(Cg *c, const Node *n) {
    if (need_f32(c, n, 2) < 0) return -1;
    const Type *xt = vtype(c, n->in[0]), *yt = vtype(c, n->out[0]), *bt = vtype(c, n->in[2]);
    if (bt->dtype != DT_I64) return cg_fail(c, "batch_indices must be i64");
    const char *m = attr_string(n, "mode", "avg"),
               *ct = attr_string(n, "coordinate_transformation_mode", "half_pixel");
    isbrt_roialign p;
    memset(&p, 0, sizeof p);
    if (strcmp(m, "avg") && strcmp(m, "max")) return cg_fail(c, "mode '%s'", m);
    if (strcmp(ct, "half_pixel") && strcmp(ct, "output_half_pixel"))
        return cg_fail(c, "coordinate_transformation_mode '%s'", ct);
    p.max = !strcmp(m, "max"), p.half_pixel = !strcmp(ct, "half_pixel");
    p.c = xt->dims[1], p.h = xt->dims[2], p.w = xt->dims[3], p.oh = yt->dims[2], p.ow = yt->dims[3];
    p.nroi = yt->dims[0], p.sampling_ratio = attr_int(n, "sampling_ratio", 0);
    p.spatial_scale = attr_float(n, "spatial_scale", 1.0f);
    LLVMValueRef x, rois, bi, y = cg_ptr(c, n->out[0]);
    if (!y) return 0;
    if (in_ptr(c, n, 0, &x) < 0 || in_ptr(c, n, 1, &rois) < 0 || in_ptr(c, n, 2, &bi) < 0)
        return -1;
    LLVMValueRef args[6] = {PARAM(c, p), cg_sym(c, sym_dim(xt, 0)), x, rois, bi, y};
    /* a batch index out of range (bad input data) makes the run return EBADARG */
    LLVMValueRef rc = call(c, "isbrt_roialign_f32", c->t_i32, 6, args);
    cg_bail_if(c, LLVMBuildICmp(c->b, LLVMIntNE, rc, cg_i32(c, 0), ""));
    return 0;
}
