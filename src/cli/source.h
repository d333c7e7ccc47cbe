// What `strata mount SOURCE` names: a bucket and key prefix of a store.
#pragma once

#include <string>

#include "strata/status.h"

namespace strata::cli {

struct Source {
  std::string scheme;      // "s3" or "file"
  std::string bucket;      // s3: the bucket
  std::string key_prefix;  // "" or ending in "/": the mounted part of the bucket
  std::string local_root;  // file: the directory
  std::string url;         // as given, for messages and fsname
};

// Parses s3://bucket[/prefix] and file:///dir. Errors: InvalidArgument with
// a one-line explanation.
Result<Source> ParseSource(const std::string& text);

}  // namespace strata::cli
