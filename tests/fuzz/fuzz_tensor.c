/* fuzz_tensor.c — libFuzzer target: bytes as a tensor file (frontend/tensor_io.c): a NumPy
 * array (.npy) when they start with its magic "\x93NUMPY", else an ONNX TensorProto (.pb). */
#include "fuzz_common.h"

#include "frontend/frontend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    bool npy = size >= 6 && memcmp(data, "\x93NUMPY", 6) == 0;
    const char *path = fuzz_file(npy ? "t.npy" : "t.pb", data, size);
    Diag d = {{0}};
    Tensor t = {0};
    if (tensor_read(path, &t, &d) == 0) tensor_free(&t);
    return 0;
}
