#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

extern "C" double hot_total(const double *values, long count);

namespace {

std::vector<double> squares_of(long n) {
    std::vector<double> values;
    for (long i = 1; i <= n; ++i) values.push_back(static_cast<double>(i));
    return values;
}

std::string describe_counts(long n) {
    std::map<std::string, long> counts;
    for (long i = 1; i <= n; ++i) counts[i % 2 ? "odd" : "even"] += i;
    std::ostringstream out;
    for (const auto &[name, sum] : counts) out << name << '=' << sum << ';';
    return out.str();
}

PyObject *total(PyObject *, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return nullptr;
    std::vector<double> values = squares_of(n);
    return PyFloat_FromDouble(hot_total(values.data(), static_cast<long>(values.size())));
}

PyObject *describe(PyObject *, PyObject *arg) {
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred()) return nullptr;
    return PyUnicode_FromString(describe_counts(n).c_str());
}

PyMethodDef methods[] = {
    {"total", total, METH_O, "Sum of the squares of 1..n."},
    {"describe", describe, METH_O, "Sums of the odd and the even numbers of 1..n."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "_core", nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit__core() { return PyModule_Create(&module); }
