/* kernels.c — the nodes lowered as kernels (ops.def's lower column): a table from op to its
 * emitter in codegen/lower_<family>.c, one file per runtime file. */
#include "lower.h"

/* Conv: 1-D and 2-D on runtime/conv.c, other ranks on runtime/convnd.c. */
static int emit_conv_any(Cg *c, const Node *n) {
    return vtype(c, n->in[0])->rank > 4 ? emit_convnd(c, n) : emit_conv(c, n);
}

/* MaxPool/AveragePool: 2-D f32 without indices on runtime/pool.c, the rest on poolnd.c. */
static int emit_pool_any(Cg *c, const Node *n) {
    bool idx = n->nout > 1 && cg_ptr(c, n->out[1]);
    const Type *xt = vtype(c, n->in[0]);
    return idx || xt->rank > 4 || xt->dtype != DT_F32 ? emit_poolnd(c, n) : emit_pool(c, n);
}

static int (*const emitters[OP_COUNT])(Cg *c, const Node *n) = {
    [OP_Conv] = emit_conv_any,
    [OP_MaxPool] = emit_pool_any,
    [OP_AveragePool] = emit_pool_any,
    [OP_Gemm] = emit_gemm,
    [OP_MatMul] = emit_matmul,
    [OP_GlobalAveragePool] = emit_global_pool,
    [OP_GlobalMaxPool] = emit_global_pool,
    [OP_Softmax] = emit_softmax,
    [OP_LogSoftmax] = emit_softmax,
    [OP_ReduceMean] = emit_reduce,
    [OP_ReduceSum] = emit_reduce,
    [OP_ReduceMax] = emit_reduce,
    [OP_ReduceMin] = emit_reduce,
    [OP_Transpose] = emit_transpose,
    [OP_Concat] = emit_concat_split,
    [OP_Split] = emit_concat_split,
    [OP_TopK] = emit_topk,
    [OP_Tile] = emit_tile,
    [OP_OneHot] = emit_onehot,
    [OP_GatherND] = emit_gathernd,
    [OP_ScatterND] = emit_scatternd,
    [OP_ReverseSequence] = emit_reverse_sequence,
    [OP_Einsum] = emit_einsum,
    [OP_Det] = emit_det,
    [OP_RNN] = emit_rnn,
    [OP_GRU] = emit_rnn,
    [OP_LSTM] = emit_rnn,
    [OP_Slice] = emit_slice,
    [OP_Gather] = emit_gather,
    [OP_Pad] = emit_pad,
    [OP_Expand] = emit_expand,
    [OP_GateMask] = emit_gate_mask,
    [OP_GatherElements] = emit_index_elements,
    [OP_ScatterElements] = emit_index_elements,
    [OP_Scatter] = emit_index_elements,
    [OP_CumSum] = emit_cumsum,
    [OP_LayerNormalization] = emit_normalize,
    [OP_InstanceNormalization] = emit_normalize,
    [OP_MeanVarianceNormalization] = emit_normalize,
    [OP_LpNormalization] = emit_lpnorm,
    [OP_NegativeLogLikelihoodLoss] = emit_loss,
    [OP_SoftmaxCrossEntropyLoss] = emit_loss,
    [OP_Resize] = emit_resize,
    [OP_ConvTranspose] = emit_convtranspose,
    [OP_DepthToSpace] = emit_depth_space,
    [OP_SpaceToDepth] = emit_depth_space,
    [OP_LRN] = emit_lrn,
    [OP_MaxUnpool] = emit_maxunpool,
    [OP_GridSample] = emit_gridsample,
    [OP_RoiAlign] = emit_roialign,
};

int cg_emit_kernel(Cg *c, const Node *n) {
    if (!emitters[n->op]) return cg_fail(c, "no code generator for this op");
    return emitters[n->op](c, n);
}
