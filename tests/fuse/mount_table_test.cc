#include "strata/mount_table.h"

#include <catch2/catch.hpp>

namespace strata {
namespace {

constexpr const char* kMountInfo =
    "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "40 22 0:40 / /tmp/my\\040mnt rw,nosuid,nodev,relatime shared:20 - fuse.strata "
    "s3://bucket rw,user_id=0,group_id=0\n"
    "41 22 0:41 / /mnt/data rw master:3 shared:9 - fuse.s3fs s3fs rw\n"
    "garbage line\n"
    "42 22 0:42 / /mnt/data rw - tmpfs tmpfs rw\n";

TEST_CASE("mountinfo lines are parsed, with escapes and optional fields") {
  std::vector<MountInfoEntry> m = ParseMountInfo(kMountInfo);
  REQUIRE(m.size() == 4);
  CHECK(m[0].mount_point == "/");
  CHECK(m[0].major == 8);
  CHECK(m[0].minor == 1);
  CHECK(m[0].fs_type == "ext4");
  CHECK(m[1].mount_point == "/tmp/my mnt");
  CHECK(m[1].fs_type == "fuse.strata");
  CHECK(m[1].source == "s3://bucket");
  CHECK(m[1].minor == 40);
  CHECK(m[2].fs_type == "fuse.s3fs");  // two optional fields before "-"
}

TEST_CASE("FindMount matches exact paths and prefers the top of a stack") {
  std::vector<MountInfoEntry> m = ParseMountInfo(kMountInfo);
  auto top = FindMount(m, "/mnt/data");
  REQUIRE(top);
  CHECK(top->fs_type == "tmpfs");
  CHECK_FALSE(FindMount(m, "/mnt"));
  CHECK_FALSE(FindMount(m, "/mnt/data/sub"));
  CHECK(FindMount(m, "/tmp/my mnt"));
}

TEST_CASE("this process's mount table is readable and has a root") {
  Result<std::vector<MountInfoEntry>> m = ReadMountInfo();
  REQUIRE(m.ok());
  CHECK(FindMount(*m, "/"));
}

TEST_CASE("readahead of a path that is not a mount point is refused") {
  Status st = SetKernelReadahead("/definitely/not/mounted", 1024);
  CHECK(st.code() == Code::kNotFound);
}

}  // namespace
}  // namespace strata
