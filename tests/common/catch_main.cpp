// The one Catch2 main shared by every qk test executable.
//
// No POSIX signal handlers: Catch2's handler reports a crash by calling malloc, which deadlocks
// when the crash happened inside malloc (a heap overrun does exactly that), and the test then
// hangs until CTest's timeout instead of failing at once. Without the handler a crash kills the
// process and CTest reports it immediately; ASan still prints its own report.
#define CATCH_CONFIG_NO_POSIX_SIGNALS
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
