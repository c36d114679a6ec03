/* lower.h — what the emitters of codegen/lower_*.c share (codegen/lower.c): input and
 * output addresses, runtime calls, attribute helpers, fused activations, windows, strided
 * copies; and the emitters, one file per runtime file, that codegen/kernels.c dispatches to.
 * Parameter structs are filled as the C structs of isbrt.h and emitted as constant globals
 * (their bytes, so the layout is the C compiler's); a field that depends on the run-time batch
 * is patched into a stack copy. */
#ifndef ISBC_CODEGEN_LOWER_H
#define ISBC_CODEGEN_LOWER_H

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../runtime/isbrt.h"
#include "cg.h"

#define PARAM(c, s) cg_param((c), &(s), sizeof(s), 0, NULL, NULL)

/* Spatial window of a 1-D or 2-D Conv/Pool (ONNX Conv-11, MaxPool-12, AveragePool-11):
 * x [n, c, (h,) w], y [n, c', (oh,) ow]. kernel gives (kh, kw). Fills h..dil of out[]. */
typedef struct Win {
    int64_t h, w, oh, ow, kh, kw, sh, sw, pt, pl, pb, pr, dh, dw;
} Win;

const Type *vtype(Cg *c, int v);
int need_f32(Cg *c, const Node *n, int count);
int in_ptr(Cg *c, const Node *n, int i, LLVMValueRef *p);
LLVMValueRef opt_ptr(Cg *c, const Node *n, int i);
LLVMValueRef call(Cg *c, const char *name, LLVMTypeRef ret, int nargs, LLVMValueRef *args);
void call_checked(Cg *c, const char *name, int nargs, LLVMValueRef *args);
int ints_or(const Node *n, const char *name, int count, int64_t dflt, int64_t *out);
int norm_axis(Cg *c, int64_t axis, int rank, int64_t *out);
int act_index(const char *name, int use);
int parse_act(Cg *c, const Node *n, isbrt_actp *a);
int window(Cg *c, const Node *n, const Type *xt, const Type *yt, const int64_t *kernel, Win *o);
int conv_call(Cg *c, const Node *n, LLVMValueRef param, const char *scratch_fn, const char *fn,
              const char *fn_team, LLVMValueRef packed);
void strides_of(const Type *t, SymInt *s);
void copy_strided(Cg *c, int rank, const SymInt *dims, const SymInt *ss, const SymInt *ds,
                  int64_t es, LLVMValueRef src, LLVMValueRef dst);
int scatter_red(const char *rs);
bool scatter_dtype_ok(int dt);
LLVMValueRef dims_array(Cg *c, const Type *t);
int window_nd(Cg *c, const Node *n, const Type *xt, const Type *yt, const int64_t *kernel,
              int64_t *st, int64_t *dl, int64_t *pd);
int rnn_activations(Cg *c, const Node *n, int per_dir, isbrt_rnn *p);

/* The emitters (return 0, or -1 with the diagnostic set). */
int emit_conv(Cg *c, const Node *n);
int emit_convtranspose(Cg *c, const Node *n);
int emit_convnd(Cg *c, const Node *n);
int emit_gemm(Cg *c, const Node *n);
int emit_matmul(Cg *c, const Node *n);
int emit_pool(Cg *c, const Node *n);
int emit_global_pool(Cg *c, const Node *n);
int emit_poolnd(Cg *c, const Node *n);
int emit_lrn(Cg *c, const Node *n);
int emit_maxunpool(Cg *c, const Node *n);
int emit_softmax(Cg *c, const Node *n);
int emit_reduce(Cg *c, const Node *n);
int emit_transpose(Cg *c, const Node *n);
int emit_concat_split(Cg *c, const Node *n);
int emit_slice(Cg *c, const Node *n);
int emit_gather(Cg *c, const Node *n);
int emit_pad(Cg *c, const Node *n);
int emit_expand(Cg *c, const Node *n);
int emit_depth_space(Cg *c, const Node *n);
int emit_tile(Cg *c, const Node *n);
int emit_gate_mask(Cg *c, const Node *n);
int emit_index_elements(Cg *c, const Node *n);
int emit_cumsum(Cg *c, const Node *n);
int emit_normalize(Cg *c, const Node *n);
int emit_lpnorm(Cg *c, const Node *n);
int emit_loss(Cg *c, const Node *n);
int emit_resize(Cg *c, const Node *n);
int emit_gridsample(Cg *c, const Node *n);
int emit_roialign(Cg *c, const Node *n);
int emit_topk(Cg *c, const Node *n);
int emit_onehot(Cg *c, const Node *n);
int emit_gathernd(Cg *c, const Node *n);
int emit_scatternd(Cg *c, const Node *n);
int emit_reverse_sequence(Cg *c, const Node *n);
int emit_einsum(Cg *c, const Node *n);
int emit_det(Cg *c, const Node *n);
int emit_rnn(Cg *c, const Node *n);

#endif
