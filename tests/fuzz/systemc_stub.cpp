// libsystemc refers to sc_main; the fuzz harnesses never elaborate a design.
extern "C" int sc_main(int, char**) { return 0; }
