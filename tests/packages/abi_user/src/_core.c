#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <abidep.h>

/* What this build was compiled against: the layout of abidep's struct. */
static PyObject *point_size(PyObject *self, PyObject *args) {
    return PyLong_FromSize_t(sizeof(struct abidep_point));
}

static PyObject *built_against(PyObject *self, PyObject *args) {
    return PyLong_FromLong(ABIDEP_MAJOR);
}

static PyMethodDef methods[] = {
    {"point_size", point_size, METH_NOARGS, NULL},
    {"built_against", built_against, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};

PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
