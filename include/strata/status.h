// Status and Result<T>: the error currency of strata's data path.
//
// Every fallible operation below the CLI returns a Status or a Result<T>.
// Exceptions are used only at start-up (configuration); the data path never
// throws. The FUSE adaptor is the one place where a Status becomes an errno
// (see ToErrno()).
//
// Thread safety: values, freely copyable; no shared state.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace strata {

enum class Code {
  kOk = 0,
  kNotFound,          // ENOENT: no such object, key or inode
  kPermissionDenied,  // EACCES: 403, wrong credentials
  kStale,             // ESTALE: the object changed under an open handle
  kIoError,           // EIO: transport failed after retries, short body
  kInvalidArgument,   // EINVAL: bad input from a caller or a config file
  kUnavailable,       // EAGAIN-like: 503/SlowDown/throttled after retries
  kTimeout,           // ETIMEDOUT
  kNoSpace,           // ENOSPC: cache disk full
  kCorruption,        // a checksum did not verify
  kNotADirectory,     // ENOTDIR
  kIsADirectory,      // EISDIR
  kReadOnly,          // EROFS
  kNameTooLong,       // ENAMETOOLONG
  kNotSupported,      // ENOTSUP
  kCancelled,
  kInternal,          // a bug: logged loudly
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
  static Status Stale(std::string m) { return {Code::kStale, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Timeout(std::string m) { return {Code::kTimeout, std::move(m)}; }
  static Status NoSpace(std::string m) { return {Code::kNoSpace, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status NotADirectory(std::string m) { return {Code::kNotADirectory, std::move(m)}; }
  static Status IsADirectory(std::string m) { return {Code::kIsADirectory, std::move(m)}; }
  static Status ReadOnly(std::string m) { return {Code::kReadOnly, std::move(m)}; }
  static Status NameTooLong(std::string m) { return {Code::kNameTooLong, std::move(m)}; }
  static Status NotSupported(std::string m) { return {Code::kNotSupported, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "NotFound: no such key 'a/b'"
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// The errno for a status: the only mapping in strata (used by the fuse adaptor
// and by the CLI's exit path). Ok maps to 0.
int ToErrno(const Status& status);

// A value or the Status that explains its absence.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "Result built from an ok Status has no value");
    if (status_.ok()) status_ = Status::Internal("Result built from an ok Status");
  }

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace strata

// Propagate a non-ok Status from an expression returning Status.
#define STRATA_RETURN_IF_ERROR(expr)              \
  do {                                            \
    ::strata::Status strata_status_ = (expr);     \
    if (!strata_status_.ok()) return strata_status_; \
  } while (0)
