int pwdep_answer(void) { return 42; }
