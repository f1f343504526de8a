__global__ void add_one(float *x, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] += 1.0f;
}

extern "C" int cuda_arch_launch(float *device_x, int n) {
    add_one<<<(n + 255) / 256, 256>>>(device_x, n);
    return static_cast<int>(cudaGetLastError());
}
