// Helpers for the cache tests: a counting, scriptable fetcher standing in for
// the object store, and temporary directories.
#pragma once

#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "cache/disk_io.h"
#include "strata/block_cache.h"

namespace strata::cache_test {

// Real POSIX I/O that tests derive from to inject faults or hold writes back:
// every call goes to the real thing unless overridden.
class ForwardingDiskIo : public cache::DiskIo {
 public:
  Result<std::unique_ptr<cache::ReadableFile>> OpenForRead(const std::string& p) override {
    return real_->OpenForRead(p);
  }
  Status WriteNewFile(const std::string& p,
                      const std::vector<std::span<const char>>& parts) override {
    return real_->WriteNewFile(p, parts);
  }
  Status Rename(const std::string& a, const std::string& b) override { return real_->Rename(a, b); }
  Status Remove(const std::string& p) override { return real_->Remove(p); }
  Result<std::vector<std::string>> ListDir(const std::string& d) override {
    return real_->ListDir(d);
  }
  Status CreateDir(const std::string& d) override { return real_->CreateDir(d); }
  Result<uint64_t> FreeBytes(const std::string& d) override { return real_->FreeBytes(d); }

 private:
  std::shared_ptr<cache::DiskIo> real_ = cache::PosixDiskIo();
};

// The bytes of version (key, etag) at [offset, offset + dst.size()): differ
// between versions and offsets.
inline void FillBytes(const ObjectVersion& v, uint64_t offset, std::span<char> dst) {
  uint64_t seed = std::hash<std::string>()(v.key + "/" + v.etag);
  for (size_t i = 0; i < dst.size(); ++i) {
    uint64_t x = (offset + i + 1) * 0x9e3779b97f4a7c15ull ^ seed;
    dst[i] = static_cast<char>(x >> 29);
  }
}

inline std::vector<char> Expected(const ObjectVersion& v, uint64_t offset, uint64_t len) {
  if (offset >= v.size) return {};
  std::vector<char> out(std::min(len, v.size - offset));
  FillBytes(v, offset, out);
  return out;
}

inline ObjectVersion Version(const std::string& key, uint64_t size,
                             const std::string& etag = "e1") {
  return ObjectVersion{"mem://test", key, etag, size};
}

// Serves FillBytes() for any version; counts calls; can be slowed, blocked or
// made to fail.
class FakeFetcher {
 public:
  struct Call {
    std::string key;
    uint64_t offset;
    uint64_t length;
  };

  RangeFetcher AsFetcher() {
    return [this](const ObjectVersion& v, uint64_t offset, std::span<char> dst) {
      return Fetch(v, offset, dst);
    };
  }

  Result<size_t> Fetch(const ObjectVersion& v, uint64_t offset, std::span<char> dst) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      calls_.push_back({v.key, offset, dst.size()});
      ++started_;
      cv_.notify_all();
      cv_.wait(lock, [&] { return !blocked_; });
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    if (fail_.load()) return Status::IoError("injected fetch failure");
    if (offset >= v.size) return size_t{0};
    size_t n = std::min<uint64_t>(dst.size(), v.size - offset);
    FillBytes(v, offset, dst.first(n));
    return n;
  }

  size_t calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_.size();
  }
  std::vector<Call> call_log() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  void Block() {
    std::lock_guard<std::mutex> lock(mu_);
    blocked_ = true;
  }
  void Unblock() {
    std::lock_guard<std::mutex> lock(mu_);
    blocked_ = false;
    cv_.notify_all();
  }
  // Waits until `n` fetches have started in total.
  void WaitStarted(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return started_ >= n; });
  }
  void set_delay(std::chrono::milliseconds d) { delay_ = d; }
  void set_fail(bool f) { fail_ = f; }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Call> calls_;
  size_t started_ = 0;
  bool blocked_ = false;
  std::chrono::milliseconds delay_{0};
  std::atomic<bool> fail_{false};
};

// A fresh directory under /tmp, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = "/tmp/strata-cache-test-XXXXXX";
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Reads [off, off + len) through c.Read; the bytes, cut at the end of the object.
inline std::vector<char> ReadAll(BlockCache& c, const ObjectVersion& v, uint64_t off,
                                 uint64_t len) {
  std::vector<char> buf(len);
  auto n = c.Read(v, off, buf);
  REQUIRE(n.ok());
  buf.resize(*n);
  return buf;
}

}  // namespace strata::cache_test
