// UTF-8 validation for byte inputs: the core assumes valid UTF-8, so bytes from callers are
// checked once at the boundary.
#pragma once
#include <cstddef>
#include <cstdint>

namespace fastprep {

// Length of the longest valid UTF-8 prefix of s[0, n): n when all of it is valid, otherwise the
// offset of the first byte of the first invalid sequence (the same offset Python reports as
// UnicodeDecodeError.start). Surrogates (ED A0..BF) and overlong forms are invalid.
size_t Utf8ValidPrefix(const uint8_t* s, size_t n);

}  // namespace fastprep
