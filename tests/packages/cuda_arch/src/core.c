#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *backend(PyObject *self, PyObject *args) {
    (void)self; (void)args;
#ifdef HAVE_CUDA
    return PyUnicode_FromString("cuda");
#else
    return PyUnicode_FromString("cpu");
#endif
}

static PyMethodDef methods[] = {{"backend", backend, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
