// QK_TEST_ASAN: defined when the test is built with AddressSanitizer (GCC's __SANITIZE_ADDRESS__,
// Clang's __has_feature). ASan's allocator aborts on impossible requests even through
// new (std::nothrow), so the out-of-memory tests are left out there.
#pragma once

#if defined(__SANITIZE_ADDRESS__)
#define QK_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define QK_TEST_ASAN 1
#endif
#endif
