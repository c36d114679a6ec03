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
 * renormalises. GridSample follows PyTorch's grid_sample, which the ONNX spec adopts. */
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
    case ISBRT_COORD_PYTORCH_HALF_PIXEL: xo = ow == 1 ? -0.5 : (x + 0.5) / scale - 0.5; break;
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
