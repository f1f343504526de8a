#define PY_SSIZE_T_CLEAN
#include <Python.h>

__attribute__((visibility("hidden"))) long sum_avx2(const int *values, long count);

static long sum_plain(const int *values, long count) {
    long sum = 0;
    for (long i = 0; i < count; i++) sum += values[i];
    return sum;
}

static PyObject *total(PyObject *self, PyObject *args) {
    (void)self; (void)args;
    int values[100];
    for (int i = 0; i < 100; i++) values[i] = i;
    __builtin_cpu_init();
    long sum = __builtin_cpu_supports("avx2") ? sum_avx2(values, 100) : sum_plain(values, 100);
    return PyLong_FromLong(sum);
}

static PyMethodDef methods[] = {{"total", total, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&module); }
