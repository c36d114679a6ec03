/* internal.h — private to frontend/: helpers shared by the importer, the opset normaliser and
 * the tensor-file reader. Not part of the frontend's interface (that is frontend.h). */
#ifndef ISBC_FRONTEND_INTERNAL_H
#define ISBC_FRONTEND_INTERNAL_H

#include "frontend.h"
#include "onnx.pb-c.h"

/* Read a whole regular file into a malloc'ed buffer; an empty file is an error. */
int read_whole_file(const char *path, uint8_t **buf, size_t *len, Diag *d);

/* Decode a TensorProto (ONNX IR, "Tensors": typed data fields, raw_data, or external data
 * resolved in `dir`; dir NULL forbids external data) into a dense row-major little-endian
 * buffer. *data is malloc'ed (NULL when the tensor has no elements). float16, string and
 * other dtypes isbc does not compute in are rejected. */
int tensor_from_proto(const Onnx__TensorProto *tp, const char *dir, Type *t, void **data, Diag *d);

/* Rewrite node `node` (freshly imported at g->opset) into the newest form of its op:
 * attributes that later opsets turned into inputs become constant inputs. */
int normalize_node(Graph *g, int node, Diag *d);

/* True for an attribute (name, kind) that an old version of `op`, valid at `opset`, has and
 * its newest version does not (e.g. Add-6 broadcast, Reshape-1 shape, Cast-1 `to` as a
 * string): the importer copies it and normalize_node rewrites or removes it. */
bool normalize_legacy_attr(int op, const char *name, int kind, int opset);

#endif
