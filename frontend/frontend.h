/* frontend.h — ONNX models and tensor files into the IR. */
#ifndef ISBC_FRONTEND_H
#define ISBC_FRONTEND_H

#include "../ir/ir.h"

/* A --shape NAME=DIMS override for a graph input. */
typedef struct ShapeOverride {
    const char *name;
    int rank;
    int64_t dims[IR_MAX_RANK];
} ShapeOverride;

/* A tensor in host memory (data from malloc, owned). */
typedef struct Tensor {
    Type type; /* no symbolic dims */
    void *data;
    char *name; /* name stored in the file, or NULL (malloc'ed) */
} Tensor;

/* A --bind NAME=FILE: graph input NAME becomes a constant holding `value`, whose dtype must
 * be the input's and whose dims must match the input's declared dims (open ones match any). */
typedef struct InputBinding {
    const char *name;
    const char *file; /* for messages */
    const Tensor *value;
} InputBinding;

typedef struct ImportOptions {
    const ShapeOverride *shapes;
    int nshapes;
    const InputBinding *binds;
    int nbinds;
    /* Optional: shape inference and constant folding of the graph built so far (the driver
     * passes pass_infer then pass_fold). The importer calls it only when resolving a Loop or
     * a sequence operator needs a constant or a type it does not have yet (a trip count
     * computed from shapes); without it such a model is refused. */
    int (*settle)(Graph *g, Diag *d);
} ImportOptions;

/* Read an ONNX model (opsets 1-21 of the default domain). Initializers (also raw_data and
 * external data beside the model) become constants, Constant nodes become constants, old
 * opset forms are normalised to the newest form (attributes that moved to inputs become
 * constant inputs). A leading dim_param of an input stays symbolic (IR_DIM_N) unless
 * overridden; other open dims must be fixed with --shape. A bound input (o->binds) is a
 * constant, not a graph input. Metadata props are kept.
 * Returns NULL with d set ("unsupported: <op> (opset N) at node '<name>'", ...). */
Graph *onnx_import(const char *path, const ImportOptions *o, Diag *d);

/* Parse "1x3x224x224" into s (name given separately); -1 with d set on error. */
int parse_dims(const char *text, ShapeOverride *s, Diag *d);

/* Read/write an ONNX TensorProto (.pb) or NumPy (.npy) file, chosen by extension. */
int tensor_read(const char *path, Tensor *t, Diag *d);
int tensor_write(const char *path, const Tensor *t, Diag *d);
void tensor_free(Tensor *t);

#endif
