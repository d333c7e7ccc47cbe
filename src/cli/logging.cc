#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"

namespace strata::cli {

void SetupLogging(const std::string& level, const std::string& log_file, bool to_stderr) {
  std::shared_ptr<spdlog::logger> logger;
  if (!log_file.empty()) {
    try {
      logger = std::make_shared<spdlog::logger>(
          "strata", std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file));
    } catch (const spdlog::spdlog_ex&) {
      logger.reset();  // unwritable log file: fall back below
    }
  }
  if (!logger && to_stderr) {
    logger = std::make_shared<spdlog::logger>("strata",
                                              std::make_shared<spdlog::sinks::stderr_sink_mt>());
  }
  if (!logger) {
    logger =
        std::make_shared<spdlog::logger>("strata", std::make_shared<spdlog::sinks::null_sink_mt>());
  }
  logger->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [%t] %v");
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

}  // namespace strata::cli
