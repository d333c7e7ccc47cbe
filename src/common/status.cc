#include "strata/status.h"

#include <cerrno>

namespace strata {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "Ok";
    case Code::kNotFound: return "NotFound";
    case Code::kPermissionDenied: return "PermissionDenied";
    case Code::kStale: return "Stale";
    case Code::kIoError: return "IoError";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kUnavailable: return "Unavailable";
    case Code::kTimeout: return "Timeout";
    case Code::kNoSpace: return "NoSpace";
    case Code::kCorruption: return "Corruption";
    case Code::kNotADirectory: return "NotADirectory";
    case Code::kIsADirectory: return "IsADirectory";
    case Code::kReadOnly: return "ReadOnly";
    case Code::kNameTooLong: return "NameTooLong";
    case Code::kNotSupported: return "NotSupported";
    case Code::kCancelled: return "Cancelled";
    case Code::kInternal: return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "Ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

int ToErrno(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return 0;
    case Code::kNotFound: return ENOENT;
    case Code::kPermissionDenied: return EACCES;
    case Code::kStale: return ESTALE;
    case Code::kIoError: return EIO;
    case Code::kInvalidArgument: return EINVAL;
    case Code::kUnavailable: return EAGAIN;
    case Code::kTimeout: return ETIMEDOUT;
    case Code::kNoSpace: return ENOSPC;
    case Code::kCorruption: return EIO;
    case Code::kNotADirectory: return ENOTDIR;
    case Code::kIsADirectory: return EISDIR;
    case Code::kReadOnly: return EROFS;
    case Code::kNameTooLong: return ENAMETOOLONG;
    case Code::kNotSupported: return ENOTSUP;
    case Code::kCancelled: return EINTR;
    case Code::kInternal: return EIO;
  }
  return EIO;
}

}  // namespace strata
