// The credentials chain: environment, then the shared credentials and config
// files. Credentials are resolved once, at construction, so that a missing
// or broken profile is reported at mount time in one clear line rather than
// on the first read.
#include <cstdlib>
#include <utility>

#include "auth/ini.h"
#include "strata/credentials.h"

namespace strata {

EnvLookup ProcessEnv() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

namespace {

class StaticCredentialsProvider : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(Credentials credentials)
      : credentials_(std::move(credentials)) {}
  Result<Credentials> Get() override { return credentials_; }

 private:
  const Credentials credentials_;  // immutable: safe to read from any thread
};

std::string EnvOr(const EnvLookup& env, const std::string& name, const std::string& fallback) {
  std::optional<std::string> value = env(name);
  return value && !value->empty() ? *value : fallback;
}

// Reads an optional file: a missing file is an empty file, any other
// failure (unreadable, malformed) is an error worth stopping for.
Result<auth::IniFile> ReadOptional(const std::string& path) {
  if (path.empty()) return auth::IniFile{};
  Result<auth::IniFile> file = auth::ReadIniFile(path);
  if (!file.ok() && file.status().code() == Code::kNotFound) return auth::IniFile{};
  return file;
}

const auth::IniSection* FindSection(const auth::IniFile& file, const std::string& name) {
  auto it = file.find(name);
  return it == file.end() ? nullptr : &it->second;
}

std::string Lookup(const auth::IniSection* section, const std::string& key) {
  if (section == nullptr) return {};
  auto it = section->find(key);
  return it == section->end() ? std::string() : it->second;
}

std::shared_ptr<CredentialsProvider> Static(Credentials c) {
  return std::make_shared<StaticCredentialsProvider>(std::move(c));
}

}  // namespace

Result<std::shared_ptr<CredentialsProvider>> MakeCredentialsChain(const CredentialsOptions& options,
                                                                  EnvLookup env) {
  if (options.anonymous) {
    Credentials anonymous;
    anonymous.source = "anonymous (--no-sign-request)";
    return Static(std::move(anonymous));
  }

  // An explicit --profile wins over credentials in the environment, as with
  // the AWS CLI; AWS_PROFILE does not.
  const bool flag_profile = !options.profile.empty();
  if (!flag_profile) {
    const std::string id = EnvOr(env, "AWS_ACCESS_KEY_ID", "");
    const std::string secret = EnvOr(env, "AWS_SECRET_ACCESS_KEY", "");
    if (!id.empty() && !secret.empty()) {
      Credentials c;
      c.access_key_id = id;
      c.secret_access_key = secret;
      c.session_token = EnvOr(env, "AWS_SESSION_TOKEN", "");
      c.source = "environment (AWS_ACCESS_KEY_ID)";
      return Static(std::move(c));
    }
    if (!id.empty() || !secret.empty()) {
      return Status::InvalidArgument(
          id.empty() ? "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"
                     : "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    }
  }

  const std::optional<std::string> env_profile = env("AWS_PROFILE");
  const bool named = flag_profile || (env_profile && !env_profile->empty());
  const std::string profile =
      flag_profile ? options.profile : EnvOr(env, "AWS_PROFILE", std::string("default"));

  const std::string home = EnvOr(env, "HOME", "");
  const std::string credentials_path =
      EnvOr(env, "AWS_SHARED_CREDENTIALS_FILE", home.empty() ? "" : home + "/.aws/credentials");
  const std::string config_path =
      EnvOr(env, "AWS_CONFIG_FILE", home.empty() ? "" : home + "/.aws/config");

  Result<auth::IniFile> credentials_file = ReadOptional(credentials_path);
  if (!credentials_file.ok()) return credentials_file.status();
  Result<auth::IniFile> config_file = ReadOptional(config_path);
  if (!config_file.ok()) return config_file.status();

  const auth::IniSection* from_credentials = FindSection(*credentials_file, profile);
  // In the config file, every profile but the default is "[profile NAME]".
  const auth::IniSection* from_config = FindSection(*config_file, "profile " + profile);
  if (from_config == nullptr && profile == "default") {
    from_config = FindSection(*config_file, "default");
  }

  if (from_credentials == nullptr && from_config == nullptr) {
    const std::string where = credentials_path.empty()
                                  ? std::string("~/.aws/credentials (HOME is unset)")
                                  : credentials_path;
    if (named) {
      std::string message = "profile '" + profile + "' not found in " + where;
      if (!config_file->empty()) message += " or " + config_path;
      return Status::NotFound(std::move(message));
    }
    return Status::NotFound(
        "no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, add a [default] "
        "profile to " +
        where + ", pass --profile, or use --no-sign-request for a public bucket");
  }

  // The credentials file wins key by key over the config file.
  auto get = [&](const std::string& key) {
    std::string value = Lookup(from_credentials, key);
    return value.empty() ? Lookup(from_config, key) : value;
  };
  Credentials c;
  c.access_key_id = get("aws_access_key_id");
  c.secret_access_key = get("aws_secret_access_key");
  c.session_token = get("aws_session_token");
  if (c.session_token.empty()) c.session_token = get("aws_security_token");  // legacy name
  const std::string file = from_credentials != nullptr ? credentials_path : config_path;
  if (!c.access_key_id.empty() && !c.secret_access_key.empty()) {
    c.source = "profile " + profile + " (" + file + ")";
    return Static(std::move(c));
  }
  for (const char* key : {"role_arn", "credential_process", "sso_session", "sso_start_url",
                          "web_identity_token_file"}) {
    if (!get(key).empty()) {
      return Status::NotSupported("profile '" + profile + "' in " + file + " uses " + key +
                                  ", which strata does not support yet");
    }
  }
  return Status::InvalidArgument("profile '" + profile + "' in " + file +
                                 " has no aws_access_key_id and aws_secret_access_key");
}

}  // namespace strata
