#include "strata/credentials.h"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>

#include "auth/ini.h"

using namespace strata;
namespace fs = std::filesystem;

namespace {

class TempHome {
 public:
  TempHome() {
    std::string tmpl = (fs::temp_directory_path() / "strata-auth-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
    fs::create_directories(path_ / ".aws");
  }
  ~TempHome() { fs::remove_all(path_); }
  std::string Write(const std::string& rel, const std::string& text) const {
    std::ofstream(path_ / rel) << text;
    return (path_ / rel).string();
  }
  std::string str() const { return path_.string(); }

 private:
  fs::path path_;
};

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

Result<Credentials> Resolve(const CredentialsOptions& options, const EnvLookup& env) {
  auto chain = MakeCredentialsChain(options, env);
  if (!chain.ok()) return chain.status();
  return (*chain)->Get();
}

const char* kCredentials = R"(# comment
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secretdefault

; another comment
[work]
aws_access_key_id=AKIDWORK
aws_secret_access_key=secret/work+key=
aws_session_token = token-work
)";

const char* kConfig = R"([default]
region = us-east-1

[profile cfgonly]
aws_access_key_id = AKIDCFG
aws_secret_access_key = secretcfg
region = eu-west-1
s3 =
  max_concurrent_requests = 20

[profile assume]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = default
)";

}  // namespace

TEST_CASE("INI: sections, comments, spacing and nested blocks") {
  Result<auth::IniFile> ini = auth::ParseIni(kConfig, "config");
  REQUIRE(ini.ok());
  CHECK(ini->at("default").at("region") == "us-east-1");
  CHECK(ini->at("profile cfgonly").at("aws_secret_access_key") == "secretcfg");
  CHECK(ini->at("profile cfgonly").at("s3.max_concurrent_requests") == "20");
  CHECK(ini->at("profile cfgonly").at("region") == "eu-west-1");
  CHECK(auth::ParseIni("", "x")->empty());
  CHECK(auth::ParseIni("[a]\r\nk = v\r\n", "x")->at("a").at("k") == "v");

  Result<auth::IniFile> bad = auth::ParseIni("[ok]\nthis line is junk\n", "/tmp/f");
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK(bad.status().message() == "/tmp/f:2: expected 'key = value'");
  CHECK_FALSE(auth::ParseIni("k = v\n", "x").ok());
  CHECK_FALSE(auth::ParseIni("[unclosed\n", "x").ok());
  CHECK_FALSE(auth::ParseIni("[]\n", "x").ok());
  CHECK(auth::ReadIniFile("/nonexistent/strata/credentials").status().code() == Code::kNotFound);
}

TEST_CASE("Credentials: the environment comes first") {
  TempHome home;
  home.Write(".aws/credentials", kCredentials);
  Result<Credentials> c = Resolve({}, Env({{"HOME", home.str()},
                                           {"AWS_ACCESS_KEY_ID", "AKIDENV"},
                                           {"AWS_SECRET_ACCESS_KEY", "secretenv"},
                                           {"AWS_SESSION_TOKEN", "tok"}}));
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "AKIDENV");
  CHECK(c->secret_access_key == "secretenv");
  CHECK(c->session_token == "tok");
  CHECK(c->source.find("environment") != std::string::npos);

  // Half a key pair is a mistake worth reporting.
  CHECK(Resolve({}, Env({{"AWS_ACCESS_KEY_ID", "AKIDENV"}})).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("Credentials: the shared file's default profile") {
  TempHome home;
  const std::string path = home.Write(".aws/credentials", kCredentials);
  Result<Credentials> c = Resolve({}, Env({{"HOME", home.str()}}));
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "AKIDDEFAULT");
  CHECK(c->secret_access_key == "secretdefault");
  CHECK(c->session_token.empty());
  CHECK(c->source == "profile default (" + path + ")");
}

TEST_CASE("Credentials: --profile beats the environment, AWS_PROFILE does not") {
  TempHome home;
  home.Write(".aws/credentials", kCredentials);
  auto env = Env({{"HOME", home.str()},
                  {"AWS_ACCESS_KEY_ID", "AKIDENV"},
                  {"AWS_SECRET_ACCESS_KEY", "secretenv"},
                  {"AWS_PROFILE", "default"}});
  CredentialsOptions flag;
  flag.profile = "work";
  Result<Credentials> c = Resolve(flag, env);
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "AKIDWORK");
  CHECK(c->secret_access_key == "secret/work+key=");
  CHECK(c->session_token == "token-work");
  CHECK(Resolve({}, env)->access_key_id == "AKIDENV");

  Result<Credentials> by_env = Resolve({}, Env({{"HOME", home.str()}, {"AWS_PROFILE", "work"}}));
  REQUIRE(by_env.ok());
  CHECK(by_env->access_key_id == "AKIDWORK");
}

TEST_CASE("Credentials: [profile x] sections of the config file") {
  TempHome home;
  home.Write(".aws/credentials", kCredentials);
  home.Write(".aws/config", kConfig);
  CredentialsOptions o;
  o.profile = "cfgonly";
  Result<Credentials> c = Resolve(o, Env({{"HOME", home.str()}}));
  REQUIRE(c.ok());
  CHECK(c->access_key_id == "AKIDCFG");

  o.profile = "assume";
  Result<Credentials> role = Resolve(o, Env({{"HOME", home.str()}}));
  CHECK(role.status().code() == Code::kNotSupported);
  CHECK(role.status().message().find("role_arn") != std::string::npos);
}

TEST_CASE("Credentials: explicit file locations from the environment") {
  TempHome home;
  const std::string creds = home.Write("elsewhere-creds", kCredentials);
  const std::string config = home.Write("elsewhere-config", kConfig);
  CredentialsOptions o;
  o.profile = "cfgonly";
  auto env = Env({{"AWS_SHARED_CREDENTIALS_FILE", creds}, {"AWS_CONFIG_FILE", config}});
  CHECK(Resolve(o, env)->access_key_id == "AKIDCFG");
  o.profile = "work";
  CHECK(Resolve(o, env)->access_key_id == "AKIDWORK");
}

TEST_CASE("Credentials: clear errors") {
  TempHome home;
  const std::string path = home.Write(".aws/credentials", kCredentials);
  CredentialsOptions o;
  o.profile = "x";
  Status s = MakeCredentialsChain(o, Env({{"HOME", home.str()}})).status();
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message() == "profile 'x' not found in " + path);

  home.Write(".aws/config", kConfig);
  s = MakeCredentialsChain(o, Env({{"HOME", home.str()}})).status();
  CHECK(s.message() == "profile 'x' not found in " + path + " or " + home.str() + "/.aws/config");

  // No profile asked for and none anywhere.
  TempHome empty;
  s = MakeCredentialsChain({}, Env({{"HOME", empty.str()}})).status();
  CHECK(s.code() == Code::kNotFound);
  CHECK(s.message().starts_with("no credentials found"));

  // A malformed file is reported with its line, not skipped.
  TempHome broken;
  const std::string bad = broken.Write(".aws/credentials", "[default]\nnot an assignment\n");
  s = MakeCredentialsChain({}, Env({{"HOME", broken.str()}})).status();
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message() == bad + ":2: expected 'key = value'");

  // A profile without keys.
  TempHome keyless;
  keyless.Write(".aws/credentials", "[default]\nregion = us-east-1\n");
  s = MakeCredentialsChain({}, Env({{"HOME", keyless.str()}})).status();
  CHECK(s.code() == Code::kInvalidArgument);
  CHECK(s.message().find("has no aws_access_key_id") != std::string::npos);
}

TEST_CASE("Credentials: anonymous and the process environment") {
  CredentialsOptions o;
  o.anonymous = true;
  Result<Credentials> c = Resolve(o, Env({}));
  REQUIRE(c.ok());
  CHECK(c->access_key_id.empty());
  CHECK(c->source.find("anonymous") != std::string::npos);

  setenv("STRATA_TEST_ENV_LOOKUP", "value", 1);
  EnvLookup env = ProcessEnv();
  CHECK(env("STRATA_TEST_ENV_LOOKUP") == std::optional<std::string>("value"));
  unsetenv("STRATA_TEST_ENV_LOOKUP");
  CHECK_FALSE(env("STRATA_TEST_ENV_LOOKUP").has_value());
}
