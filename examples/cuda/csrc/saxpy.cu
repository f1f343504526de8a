// y = a * x + y on the GPU. Returns 0, or a message describing the CUDA failure.
#include <cuda_runtime.h>

#include <cstddef>

__global__ static void saxpy_kernel(float a, const float *x, float *y, long long n) {
    long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) y[i] = a * x[i] + y[i];
}

static const char *check(cudaError_t err) { return err == cudaSuccess ? nullptr : cudaGetErrorString(err); }

extern "C" const char *pw_cuda_saxpy(float a, const float *x, float *y, long long n) {
    int devices = 0;
    if (const char *err = check(cudaGetDeviceCount(&devices))) return err;
    if (devices == 0) return "no CUDA device";
    float *dx = nullptr, *dy = nullptr;
    const std::size_t bytes = sizeof(float) * static_cast<std::size_t>(n);
    const char *err = check(cudaMalloc(&dx, bytes));
    if (!err) err = check(cudaMalloc(&dy, bytes));
    if (!err) err = check(cudaMemcpy(dx, x, bytes, cudaMemcpyHostToDevice));
    if (!err) err = check(cudaMemcpy(dy, y, bytes, cudaMemcpyHostToDevice));
    if (!err) {
        saxpy_kernel<<<static_cast<unsigned>((n + 255) / 256), 256>>>(a, dx, dy, n);
        err = check(cudaGetLastError());
    }
    if (!err) err = check(cudaMemcpy(y, dy, bytes, cudaMemcpyDeviceToHost));
    cudaFree(dx);
    cudaFree(dy);
    return err;
}

extern "C" const char *pw_cuda_device(char *name, int size, int *major, int *minor) {
    cudaDeviceProp prop;
    if (const char *err = check(cudaGetDeviceProperties(&prop, 0))) return err;
    for (int i = 0; i < size - 1 && prop.name[i]; ++i) name[i] = prop.name[i], name[i + 1] = 0;
    *major = prop.major;
    *minor = prop.minor;
    return nullptr;
}
