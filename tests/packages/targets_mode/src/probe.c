#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define STR2(x) #x
#define STR(x) STR2(x)
#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)

/* Lets a test see, without running the module, which flags it was compiled with. */
#ifdef __AVX512F__
__attribute__((used)) static const char compiled_with[] = "probe-compiled-with-avx512f";
#endif

static PyObject *avx512(PyObject *self, PyObject *args) {
    (void)self; (void)args;
#ifdef __AVX512F__
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

static PyMethodDef methods[] = {{"avx512", avx512, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, STR(MODNAME), NULL, -1, methods};
PyMODINIT_FUNC CAT(PyInit_, MODNAME)(void) { return PyModule_Create(&module); }
