double hot_total(const double *values, long count) {
    double sum = 0.0;
    for (long i = 0; i < count; ++i) sum += values[i] * values[i];
    return sum;
}
