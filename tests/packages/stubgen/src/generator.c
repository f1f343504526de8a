#include <stdio.h>

int main(void) {
#ifdef STUBGEN_TRAP
    __builtin_trap(); /* ud2 on x86: the CPU raises SIGILL, as for an unsupported instruction */
#endif
    puts("generated");
    return 0;
}
