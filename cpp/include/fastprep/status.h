// Errors as values: every fallible core function returns a Status; bindings turn it into a Python exception.
#pragma once
#include <string>
#include <utility>

namespace fastprep {

enum class ErrorCode {
  kOk = 0,
  kInvalidArgument,  // -> ValueError
  kInvalidUtf8,      // -> ValueError (message carries the byte offset)
  kOutOfRange,       // -> KeyError / IndexError depending on the call site
  kUnsupported,      // -> fastprep.UnsupportedError (a ValueError)
  kLimitExceeded,    // -> ValueError
  kIo,               // -> OSError
  kInternal,         // -> RuntimeError
};

class Status {
 public:
  Status() = default;
  Status(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }
  bool ok() const { return code_ == ErrorCode::kOk; }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  ErrorCode code_ = ErrorCode::kOk;
  std::string message_;
};

}  // namespace fastprep
