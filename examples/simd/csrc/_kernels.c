/* A compute-bound kernel: a degree-12 polynomial per float, evaluated with Horner's
 * rule. Each element costs 12 multiply-adds and no element depends on another, so
 * GCC vectorises the loop at -O3: 4 lanes with SSE2 (x86-64 v1), 8 lanes with fused
 * multiply-add on AVX2 (v3), 16 lanes on AVX-512 (v4). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <time.h>

#ifndef PW_VARIANT
#define PW_VARIANT "none"
#endif

#define DEGREE 12
static const float COEFFS[DEGREE + 1] = {
    1.0f, -0.5f, 0.25f, -0.125f, 0.0625f, -0.03125f, 0.015625f,
    -0.0078125f, 0.00390625f, -0.001953125f, 0.0009765625f, -0.00048828125f, 0.000244140625f,
};

static void poly_kernel(const float *restrict in, float *restrict out, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; ++i) {
        float x = in[i];
        float acc = COEFFS[DEGREE];
        for (int k = DEGREE - 1; k >= 0; --k) acc = acc * x + COEFFS[k];
        out[i] = acc;
    }
}

static PyObject *poly(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer in, out;
    if (!PyArg_ParseTuple(args, "y*w*", &in, &out)) return NULL;
    PyObject *result = NULL;
    if (in.itemsize != 4 || out.itemsize != 4 || in.len != out.len) {
        PyErr_SetString(PyExc_ValueError, "poly(in, out) needs two float32 buffers of equal length");
    } else {
        Py_BEGIN_ALLOW_THREADS
        poly_kernel((const float *)in.buf, (float *)out.buf, in.len / 4);
        Py_END_ALLOW_THREADS
        result = Py_NewRef(Py_None);
    }
    PyBuffer_Release(&in);
    PyBuffer_Release(&out);
    return result;
}

/* Time `repeats` passes over an L1-sized array of `n` floats; returns the best pass. */
static PyObject *benchmark(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t n = 4096;
    int repeats = 2000;
    if (!PyArg_ParseTuple(args, "|ni", &n, &repeats)) return NULL;
    if (n <= 0 || repeats <= 0) {
        PyErr_SetString(PyExc_ValueError, "n and repeats must be positive");
        return NULL;
    }
    float *in = malloc(sizeof(float) * (size_t)n), *out = malloc(sizeof(float) * (size_t)n);
    if (!in || !out) {
        free(in);
        free(out);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; ++i) in[i] = (float)(i % 97) / 97.0f;
    double best = 1e30;
    Py_BEGIN_ALLOW_THREADS
    for (int r = 0; r < repeats; ++r) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        poly_kernel(in, out, n);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (dt < best) best = dt;
        in[r % n] = out[(r * 7) % n] * 0.001f; /* keep the compiler from hoisting passes */
    }
    Py_END_ALLOW_THREADS
    free(in);
    free(out);
    return PyFloat_FromDouble(best);
}

static PyObject *build_info(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return Py_BuildValue(
        "{s:s,s:O,s:O,s:O}", "variant", PW_VARIANT,
#ifdef __AVX2__
        "avx2", Py_True,
#else
        "avx2", Py_False,
#endif
#ifdef __FMA__
        "fma", Py_True,
#else
        "fma", Py_False,
#endif
#ifdef __AVX512F__
        "avx512f", Py_True
#else
        "avx512f", Py_False
#endif
    );
}

static PyMethodDef methods[] = {
    {"poly", poly, METH_VARARGS, "poly(in, out): out[i] = P(in[i]) for float32 buffers"},
    {"benchmark", benchmark, METH_VARARGS, "benchmark(n=4096, repeats=2000) -> best seconds per pass"},
    {"build_info", build_info, METH_NOARGS, "the variant and instruction sets this module was compiled for"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", NULL, -1, methods};

PyMODINIT_FUNC PyInit__kernels(void) { return PyModule_Create(&module); }
