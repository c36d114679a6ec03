/* resize.c — resampling kernels: ONNX Resize-13 (nearest / linear / cubic, every
 * coordinate_transformation_mode of Resize-13, exclude_outside, extrapolation_value) and
 * GridSample-16 (bilinear / nearest / bicubic, zeros / border / reflection padding).
 *
 * Resize is separable: the ONNX reference interpolates an N-d point as nested 1-D
 * interpolations, innermost axis first, each with the same per-axis coefficients, so this
 * kernel resamples whole axes one after another (last axis first) through two scratch
 * buffers. Per axis, output index o maps to x_original (coordinate mode), whose taps follow
 * the reference: the T (2 or 4) input positions nearest to x_original, preferring the lower
 * ones, read with edge clamping; exclude_outside zeroes the taps outside the input and
 * renormalises. GridSample follows PyTorch's grid_sample, which the ONNX spec adopts; RoiAlign
 * averages (or maxes) bilinear samples on a regular grid inside each output bin. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* ---- Resize ------------------------------------------------------------------------------ */

/* Axes Resize must touch: those whose mapping is not the identity. */
static int resize_axis_active(const isbrt_resize *p, int d) {
    return p->in[d] != p->out[d] || p->scale[d] != 1.0 ||
           p->coord == ISBRT_COORD_TF_CROP_AND_RESIZE;
}

/* Taps of output index o on axis d: idx[0..*t) and weights w; returns 0 when the point is
 * extrapolated (tf_crop_and_resize outside the input). */
static int resize_taps(const isbrt_resize *p, int d, int64_t o, int64_t *idx, float *w, int *t) {
    const double in = (double)p->in[d], scale = p->scale[d], ow = scale * in, x = (double)o;
    double xo;
    switch (p->coord) {
    case ISBRT_COORD_ALIGN_CORNERS: xo = ow == 1 ? 0 : x * (in - 1) / (ow - 1); break;
    case ISBRT_COORD_ASYMMETRIC: xo = x / scale; break;
    case ISBRT_COORD_TF_HALF_PIXEL_FOR_NN: xo = (x + 0.5) / scale; break;
    /* one output: the spec's 0 (as ONNX Runtime), not the -0.5 of onnx's Python reference;
     * they differ only for cubic */
    case ISBRT_COORD_PYTORCH_HALF_PIXEL: xo = ow == 1 ? 0 : (x + 0.5) / scale - 0.5; break;
    case ISBRT_COORD_TF_CROP_AND_RESIZE: {
        double s = p->roi_start[d], e = p->roi_end[d];
        xo = ow == 1 ? (e - s) * (in - 1) / 2 : x * (e - s) * (in - 1) / (ow - 1);
        xo += s * (in - 1);
        if (xo < 0 || xo > in - 1) return 0;
        break;
    }
    default: xo = (x + 0.5) / scale - 0.5; break; /* half_pixel */
    }
    double base = floor(xo), r = xo - base;
    if (r == 0) base -= 1, r = 1; /* the reference keeps the ratio in (0, 1] */
    double c[4];
    int n;
    if (p->mode == ISBRT_RESIZE_NEAREST) {
        int hi;
        if (r == 1)
            hi = 1;
        else if (p->nearest == ISBRT_NEAREST_ROUND_PREFER_CEIL)
            hi = r >= 0.5;
        else if (p->nearest == ISBRT_NEAREST_FLOOR)
            hi = 0;
        else if (p->nearest == ISBRT_NEAREST_CEIL)
            hi = 1;
        else
            hi = r > 0.5;
        n = 2, c[0] = !hi, c[1] = hi;
    } else if (p->mode == ISBRT_RESIZE_LINEAR) {
        n = 2, c[0] = 1 - r, c[1] = r;
    } else {
        const double a = p->cubic_a, s = 1 - r;
        n = 4;
        c[0] = ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a;
        c[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
        c[2] = ((a + 2) * s - (a + 3)) * s * s + 1;
        c[3] = ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a;
    }
    const int64_t first = (int64_t)base - n / 2 + 1;
    double sum = 0;
    for (int i = 0; i < n; i++) {
        int64_t k = first + i;
        if (p->exclude_outside && (k < 0 || k >= p->in[d])) c[i] = 0;
        sum += c[i];
    }
    *t = 0;
    for (int i = 0; i < n; i++) {
        if (c[i] == 0) continue;
        int64_t k = first + i;
        idx[*t] = k < 0 ? 0 : k >= p->in[d] ? p->in[d] - 1 : k;
        w[*t] = (float)(p->exclude_outside && sum != 0 ? c[i] / sum : c[i]);
        (*t)++;
    }
    return 1;
}

/* y [outer, out, inner] from x [outer, in, inner] along axis d. */
static void resize_axis(const isbrt_resize *p, int d, int64_t outer, int64_t inner, const float *x,
                        float *y) {
    const int64_t in = p->in[d], out = p->out[d];
    for (int64_t o = 0; o < out; o++) {
        int64_t idx[4];
        float w[4];
        int t = 0;
        int inside = resize_taps(p, d, o, idx, w, &t);
        for (int64_t r = 0; r < outer; r++) {
            float *restrict yr = y + (r * out + o) * inner;
            const float *xr = x + r * in * inner;
            if (!inside) {
                for (int64_t i = 0; i < inner; i++) yr[i] = p->extrapolation;
            } else if (t == 1 && w[0] == 1.0f) {
                memcpy(yr, xr + idx[0] * inner, sizeof(float) * (size_t)inner);
            } else {
                for (int64_t i = 0; i < inner; i++) yr[i] = 0;
                for (int k = 0; k < t; k++) {
                    const float *restrict s = xr + idx[k] * inner;
                    const float wk = w[k];
                    for (int64_t i = 0; i < inner; i++) yr[i] += wk * s[i];
                }
            }
        }
    }
}

size_t isbrt_resize_scratch(const isbrt_resize *p) {
    int64_t dims[ISBRT_MAX_RANK], most = 0;
    int left = 0;
    for (int d = 0; d < p->rank; d++) dims[d] = p->in[d], left += resize_axis_active(p, d);
    for (int d = p->rank - 1; d >= 0 && left > 1; d--) {
        if (!resize_axis_active(p, d)) continue;
        dims[d] = p->out[d];
        left--;
        int64_t numel = 1;
        for (int k = 0; k < p->rank; k++) numel *= dims[k];
        if (numel > most) most = numel;
    }
    return 2 * (size_t)most * sizeof(float);
}

void isbrt_resize_f32(const isbrt_resize *p, int64_t n, const float *x, float *y, void *scratch) {
    int64_t in_numel = 1, out_numel = 1;
    int active = 0;
    for (int d = 0; d < p->rank; d++) {
        in_numel *= p->in[d], out_numel *= p->out[d];
        active += resize_axis_active(p, d);
    }
    const int64_t half = (int64_t)(isbrt_resize_scratch(p) / 2 / sizeof(float));
    float *buf[2] = {scratch, (float *)scratch + half};
    for (int64_t b = 0; b < n; b++) {
        const float *src = x + b * in_numel;
        float *yb = y + b * out_numel;
        if (active == 0) {
            memcpy(yb, src, sizeof(float) * (size_t)in_numel);
            continue;
        }
        int64_t dims[ISBRT_MAX_RANK];
        for (int d = 0; d < p->rank; d++) dims[d] = p->in[d];
        int done = 0;
        for (int d = p->rank - 1; d >= 0; d--) {
            if (!resize_axis_active(p, d)) continue;
            int64_t outer = 1, inner = 1;
            for (int k = 0; k < d; k++) outer *= dims[k];
            for (int k = d + 1; k < p->rank; k++) inner *= dims[k];
            float *dst = ++done == active ? yb : buf[done & 1];
            resize_axis(p, d, outer, inner, src, dst);
            dims[d] = p->out[d];
            src = dst;
        }
    }
}

/* ---- GridSample -------------------------------------------------------------------------- */

/* Grid coordinate in [-1, 1] to a pixel position (PyTorch grid_sampler_unnormalize). */
static double gs_unnormalize(double g, int64_t size, int align) {
    return align ? (g + 1) / 2 * (double)(size - 1) : ((g + 1) * (double)size - 1) / 2;
}

/* Reflect x into [lo, hi] (twice the bounds, PyTorch reflect_coordinates). */
static double gs_reflect(double x, double lo2, double hi2) {
    if (lo2 == hi2) return 0;
    double mn = lo2 / 2, span = (hi2 - lo2) / 2;
    x = fabs(x - mn);
    double extra = fmod(x, span);
    int64_t flips = (int64_t)floor(x / span);
    return flips % 2 == 0 ? extra + mn : span - extra + mn;
}

/* Apply the padding mode to a source coordinate (PyTorch compute_coordinates). */
static double gs_pad_coord(const isbrt_gridsample *p, double x, int64_t size) {
    if (p->padding == ISBRT_GS_BORDER) {
        x = x < 0 ? 0 : x > (double)(size - 1) ? (double)(size - 1) : x;
    } else if (p->padding == ISBRT_GS_REFLECTION) {
        x = p->align_corners ? gs_reflect(x, 0, 2.0 * (double)(size - 1))
                             : gs_reflect(x, -1, 2.0 * (double)size - 1);
        x = x < 0 ? 0 : x > (double)(size - 1) ? (double)(size - 1) : x;
    }
    return x;
}

/* Plane value at integer (iy, ix); zero outside. */
static double gs_at(const float *plane, const isbrt_gridsample *p, int64_t iy, int64_t ix) {
    if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w) return 0;
    return plane[iy * p->w + ix];
}

static void gs_cubic(double t, double a, double *c) {
    double s = 1 - t;
    c[0] = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a;
    c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    c[2] = ((a + 2) * s - (a + 3)) * s * s + 1;
    c[3] = ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a;
}

void isbrt_gridsample_f32(const isbrt_gridsample *p, int64_t n, const float *x, const float *grid,
                          float *y) {
    const int64_t hw = p->h * p->w, ohw = p->oh * p->ow;
    for (int64_t b = 0; b < n; b++) {
        const float *gb = grid + b * ohw * 2;
        for (int64_t ch = 0; ch < p->c; ch++) {
            const float *plane = x + (b * p->c + ch) * hw;
            float *yp = y + (b * p->c + ch) * ohw;
            for (int64_t o = 0; o < ohw; o++) {
                double gx = gs_unnormalize(gb[2 * o], p->w, p->align_corners);
                double gy = gs_unnormalize(gb[2 * o + 1], p->h, p->align_corners);
                double v = 0;
                if (p->mode == ISBRT_GS_BICUBIC) {
                    /* taps at floor-1 .. floor+2, each coordinate padded on its own */
                    double fx = floor(gx), fy = floor(gy), cx[4], cy[4];
                    gs_cubic(gx - fx, -0.75, cx);
                    gs_cubic(gy - fy, -0.75, cy);
                    for (int i = 0; i < 4; i++) {
                        double row = 0;
                        for (int j = 0; j < 4; j++) {
                            double sx = gs_pad_coord(p, fx - 1 + j, p->w);
                            double sy = gs_pad_coord(p, fy - 1 + i, p->h);
                            row += cx[j] * gs_at(plane, p, (int64_t)sy, (int64_t)sx);
                        }
                        v += cy[i] * row;
                    }
                } else {
                    gx = gs_pad_coord(p, gx, p->w);
                    gy = gs_pad_coord(p, gy, p->h);
                    if (p->mode == ISBRT_GS_NEAREST) {
                        v = gs_at(plane, p, (int64_t)nearbyint(gy), (int64_t)nearbyint(gx));
                    } else {
                        double fx = floor(gx), fy = floor(gy), tx = gx - fx, ty = gy - fy;
                        int64_t ix = (int64_t)fx, iy = (int64_t)fy;
                        v = (1 - ty) * ((1 - tx) * gs_at(plane, p, iy, ix) +
                                        tx * gs_at(plane, p, iy, ix + 1)) +
                            ty * ((1 - tx) * gs_at(plane, p, iy + 1, ix) +
                                  tx * gs_at(plane, p, iy + 1, ix + 1));
                    }
                }
                yp[o] = (float)v;
            }
        }
    }
}

/* ---- RoiAlign ---------------------------------------------------------------------------- */

/* Bilinear sample of plane at (y, x) with RoiAlign's border rule (zero beyond one pixel
 * outside, clamped to the last row/column); avg: the weighted sum, max: the largest
 * weighted corner. */
static double roi_sample(const isbrt_roialign *p, const float *plane, double y, double x) {
    if (y < -1.0 || y > (double)p->h || x < -1.0 || x > (double)p->w) return 0;
    y = y < 0 ? 0 : y, x = x < 0 ? 0 : x;
    int64_t y0 = (int64_t)y, x0 = (int64_t)x, y1, x1;
    if (y0 >= p->h - 1)
        y0 = y1 = p->h - 1, y = (double)y0;
    else
        y1 = y0 + 1;
    if (x0 >= p->w - 1)
        x0 = x1 = p->w - 1, x = (double)x0;
    else
        x1 = x0 + 1;
    double ly = y - (double)y0, lx = x - (double)x0, hy = 1 - ly, hx = 1 - lx;
    double v[4] = {hy * hx * plane[y0 * p->w + x0], hy * lx * plane[y0 * p->w + x1],
                   ly * hx * plane[y1 * p->w + x0], ly * lx * plane[y1 * p->w + x1]};
    if (!p->max) return v[0] + v[1] + v[2] + v[3];
    double m = v[0];
    for (int i = 1; i < 4; i++) m = v[i] > m ? v[i] : m;
    return m;
}

int isbrt_roialign_f32(const isbrt_roialign *p, int64_t n, const float *x, const float *rois,
                       const int64_t *batch_indices, float *y) {
    int rc = 0;
    const int64_t hw = p->h * p->w, ohw = p->oh * p->ow;
    const double off = p->half_pixel ? 0.5 : 0.0, sc = p->spatial_scale;
    for (int64_t r = 0; r < p->nroi; r++) {
        float *yr = y + r * p->c * ohw;
        const int64_t b = batch_indices[r];
        if (b < 0 || b >= n) {
            memset(yr, 0, sizeof(float) * (size_t)(p->c * ohw));
            rc = -1;
            continue;
        }
        const float *roi = rois + 4 * r;
        double x0 = roi[0] * sc - off, y0 = roi[1] * sc - off;
        double rw = roi[2] * sc - off - x0, rh = roi[3] * sc - off - y0;
        if (!p->half_pixel) rw = rw > 1 ? rw : 1, rh = rh > 1 ? rh : 1;
        const double bh = rh / (double)p->oh, bw = rw / (double)p->ow;
        const int64_t gh =
            p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rh / (double)p->oh);
        const int64_t gw =
            p->sampling_ratio > 0 ? p->sampling_ratio : (int64_t)ceil(rw / (double)p->ow);
        const double count = gh * gw > 0 ? (double)(gh * gw) : 1.0;
        for (int64_t ch = 0; ch < p->c; ch++) {
            const float *plane = x + (b * p->c + ch) * hw;
            for (int64_t ph = 0; ph < p->oh; ph++)
                for (int64_t pw = 0; pw < p->ow; pw++) {
                    double acc = 0;
                    int first = 1;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double sy = y0 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double sx = x0 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            double v = roi_sample(p, plane, sy, sx);
                            if (!p->max)
                                acc += v;
                            else if (first || v > acc)
                                acc = v;
                            first = 0;
                        }
                    }
                    yr[(ch * p->oh + ph) * p->ow + pw] = (float)(p->max ? acc : acc / count);
                }
        }
    }
    return rc;
}
