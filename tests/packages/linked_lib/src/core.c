#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>

int pwdep_answer(void);

static PyObject *answer(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    /* getenv makes the module link the C library itself, as real extensions do;
       auditwheel reads the libc flavour from that link. */
    const char *bonus = getenv("LINKED_LIB_BONUS");
    return PyLong_FromLong(pwdep_answer() + (bonus ? atoi(bonus) : 0));
}

static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
