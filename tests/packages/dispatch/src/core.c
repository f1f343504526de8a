/* Runtime CPU dispatch, NumPy style: an AVX2 path chosen only when the CPU has AVX2.
   The v1 wheel legitimately contains AVX2 instructions here. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define N 1024

__attribute__((target("avx2"), visibility("default"), noinline))
float dispatch_sum_avx2(const float *x, int n) {
    float acc[8] = {0};
    for (int i = 0; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; ++k) acc[k] += x[i + k];
    float s = 0;
    for (int k = 0; k < 8; ++k) s += acc[k];
    return s;
}

static float sum_baseline(const float *x, int n) {
    float s = 0;
    for (int i = 0; i < n; ++i) s += x[i];
    return s;
}

static PyObject *total(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    static float x[N];
    for (int i = 0; i < N; ++i) x[i] = 1.0f;
    __builtin_cpu_init();
    float s = __builtin_cpu_supports("avx2") ? dispatch_sum_avx2(x, N) : sum_baseline(x, N);
    return PyFloat_FromDouble(s);
}

static PyMethodDef methods[] = {{"total", total, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
