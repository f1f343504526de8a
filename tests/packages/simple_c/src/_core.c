#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifndef SIMPLE_LABEL
#define SIMPLE_LABEL "none"
#endif

/* Reports which instruction-set macros the compiler saw, so tests can tell
   whether the variant's -march flag reached this translation unit. */
static PyObject *features(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    return Py_BuildValue("{s:s,s:O,s:O}", "label", SIMPLE_LABEL,
#ifdef __AVX2__
                         "avx2", Py_True,
#else
                         "avx2", Py_False,
#endif
#ifdef __AVX512F__
                         "avx512f", Py_True
#else
                         "avx512f", Py_False
#endif
    );
}

static void scale(float *restrict out, const float *restrict in, int n) {
    for (int i = 0; i < n; ++i) out[i] = in[i] * 3.0f + 1.0f;
}

static PyObject *run(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    float in[1024], out[1024];
    for (int i = 0; i < 1024; ++i) in[i] = (float)i;
    scale(out, in, 1024);
    return PyFloat_FromDouble(out[1023]);
}

static PyMethodDef methods[] = {
    {"features", features, METH_NOARGS, "compile-time instruction set macros"},
    {"run", run, METH_NOARGS, "run a small vectorisable loop"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
