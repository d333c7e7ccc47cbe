// The libcurl HttpClient against a tiny scripted HTTP/1.1 server on
// 127.0.0.1: keep-alive reuse, body sinks, short bodies, timeouts, refused
// connections, uploads and many threads at once.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "strata/http.h"

using namespace strata;

namespace {

struct Received {
  std::string head;  // request line and headers
  std::string body;
};

struct Reply {
  std::string bytes;  // the raw response
  bool close = false;
  int stall_ms = 0;  // sleep after sending, before closing or continuing
};

class ScriptedServer {
 public:
  using Handler = std::function<Reply(const Received&)>;

  explicit ScriptedServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(listen_fd_ >= 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(listen_fd_, 64) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { AcceptLoop(); });
  }

  ~ScriptedServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    std::vector<std::thread> workers;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
      workers.swap(workers_);
    }
    for (auto& t : workers) t.join();
  }

  std::string Url(const std::string& path = "/") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int connections() const { return connections_.load(); }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      std::lock_guard<std::mutex> lock(mu_);
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd] { Serve(fd); });
    }
  }

  void Serve(int fd) {
    std::string buffer;
    char chunk[65536];
    while (true) {
      size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) return Close(fd);
        buffer.append(chunk, static_cast<size_t>(n));
      }
      Received request;
      request.head = buffer.substr(0, end + 4);
      buffer.erase(0, end + 4);
      size_t length = 0;
      const size_t cl = request.head.find("Content-Length: ");
      if (cl != std::string::npos) length = std::stoul(request.head.substr(cl + 16));
      while (buffer.size() < length) {
        const ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
        if (n <= 0) return Close(fd);
        buffer.append(chunk, static_cast<size_t>(n));
      }
      request.body = buffer.substr(0, length);
      buffer.erase(0, length);
      const Reply reply = handler_(request);
      size_t sent = 0;
      while (sent < reply.bytes.size()) {
        const ssize_t n =
            ::send(fd, reply.bytes.data() + sent, reply.bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return Close(fd);
        sent += static_cast<size_t>(n);
      }
      if (reply.stall_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(reply.stall_ms));
      if (reply.close) return Close(fd);
    }
  }

  void Close(int fd) {
    std::lock_guard<std::mutex> lock(mu_);
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
    std::erase(open_fds_, fd);
  }

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<int> open_fds_;
};

std::string Response(int status, const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

HttpClientOptions FastOptions() {
  HttpClientOptions o;
  o.connect_timeout_ms = 2000;
  o.low_speed_timeout_ms = 1000;
  return o;
}

}  // namespace

TEST_CASE("HTTP: a GET returns status, lower-cased headers and body over one reused connection") {
  std::mutex mu;
  std::vector<std::string> heads;
  ScriptedServer server([&](const Received& r) {
    std::lock_guard<std::mutex> lock(mu);
    heads.push_back(r.head);
    return Reply{Response(200, "hello", "ETag: \"abc\"\r\nX-Amz-Request-Id:  r1 \r\n")};
  });
  auto client = MakeCurlHttpClient(FastOptions());
  for (int i = 0; i < 5; ++i) {
    HttpRequest request;
    request.url = server.Url("/bkt/a%20b");
    request.headers = {{"X-Custom", "v"}, {"X-Empty", ""}};
    Result<HttpResponse> r = client->Send(request);
    REQUIRE(r.ok());
    CHECK(r->status == 200);
    CHECK(r->body == "hello");
    CHECK(r->Header("etag") == "\"abc\"");
    CHECK(r->Header("x-amz-request-id") == "r1");
    CHECK(r->Header("absent").empty());
  }
  CHECK(server.connections() == 1);  // keep-alive: one connection for five requests
  std::lock_guard<std::mutex> lock(mu);
  CHECK(heads[0].starts_with("GET /bkt/a%20b HTTP/1.1\r\n"));
  CHECK(heads[0].find("X-Custom: v\r\n") != std::string::npos);
  CHECK(heads[0].find("X-Empty:\r\n") != std::string::npos);
}

TEST_CASE("HTTP: dot segments in paths are sent as they are") {
  std::string head;
  ScriptedServer server([&](const Received& r) {
    head = r.head;
    return Reply{Response(200, "")};
  });
  HttpRequest request;
  request.url = server.Url("/bkt/a/../b/./c");
  REQUIRE(MakeCurlHttpClient(FastOptions())->Send(request).ok());
  CHECK(head.starts_with("GET /bkt/a/../b/./c HTTP/1.1"));
}

TEST_CASE("HTTP: bodies go straight into the caller's span") {
  ScriptedServer server([](const Received& r) {
    if (r.head.find("/missing") != std::string::npos) {
      return Reply{Response(404, "<Error><Code>NoSuchKey</Code></Error>")};
    }
    if (r.head.find("/big") != std::string::npos) return Reply{Response(200, "0123456789")};
    return Reply{Response(206, "2345", "Content-Range: bytes 2-5/10\r\n")};
  });
  auto client = MakeCurlHttpClient(FastOptions());
  std::vector<char> buffer(4, 'x');
  HttpRequest request;
  request.url = server.Url("/obj");
  request.body_sink = buffer;
  Result<HttpResponse> r = client->Send(request);
  REQUIRE(r.ok());
  CHECK(r->status == 206);
  CHECK(r->sink_bytes == 4);
  CHECK(r->body.empty());
  CHECK(std::string(buffer.begin(), buffer.end()) == "2345");

  // Error bodies never land in the sink.
  request.url = server.Url("/missing");
  r = client->Send(request);
  REQUIRE(r.ok());
  CHECK(r->status == 404);
  CHECK(r->sink_bytes == 0);
  CHECK(r->body == "<Error><Code>NoSuchKey</Code></Error>");
  CHECK(std::string(buffer.begin(), buffer.end()) == "2345");

  // A 2xx body larger than the span fails instead of overrunning it.
  request.url = server.Url("/big");
  r = client->Send(request);
  CHECK(r.status().code() == Code::kInvalidArgument);
}

TEST_CASE("HTTP: a 2xx body can be scattered over several buffers, in order") {
  ScriptedServer server([](const Received& r) {
    if (r.head.find("/big") != std::string::npos) return Reply{Response(200, "0123456789")};
    return Reply{Response(200, "abcdefgh")};
  });
  auto client = MakeCurlHttpClient(FastOptions());
  std::vector<char> a(3), b(0), c(5, 'x');
  const std::span<char> parts[] = {a, b, c};
  HttpRequest request;
  request.url = server.Url("/obj");
  request.body_sinks = parts;
  Result<HttpResponse> r = client->Send(request);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  CHECK(r->sink_bytes == 8);
  CHECK(r->body.empty());
  CHECK(std::string(a.begin(), a.end()) == "abc");
  CHECK(std::string(c.begin(), c.end()) == "defgh");
  // More than all the buffers hold fails instead of overrunning the last.
  request.url = server.Url("/big");
  r = client->Send(request);
  CHECK(r.status().code() == Code::kInvalidArgument);
  CHECK(r.status().message().find("8-byte buffer") != std::string::npos);
}

TEST_CASE("HTTP: a body shorter than Content-Length is a retryable IoError") {
  ScriptedServer server([](const Received&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + std::string(50, 'a'), true};
  });
  auto client = MakeCurlHttpClient(FastOptions());
  HttpRequest request;
  request.url = server.Url();
  Result<HttpResponse> r = client->Send(request);
  CHECK(r.status().code() == Code::kIoError);
  std::vector<char> buffer(100);
  request.body_sink = buffer;
  r = client->Send(request);
  CHECK(r.status().code() == Code::kIoError);
  CHECK(r.status().message().find("shorter") != std::string::npos);
}

TEST_CASE("HTTP: a stalled transfer times out") {
  ScriptedServer server([](const Received&) {
    return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", true, 1500};
  });
  HttpClientOptions o = FastOptions();
  o.low_speed_timeout_ms = 400;
  auto client = MakeCurlHttpClient(o);
  HttpRequest request;
  request.url = server.Url();
  const auto start = std::chrono::steady_clock::now();
  Result<HttpResponse> r = client->Send(request);
  CHECK(r.status().code() == Code::kTimeout);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(1400));
}

TEST_CASE("HTTP: a refused connection is Unavailable with curl's message") {
  int port;
  {
    ScriptedServer server([](const Received&) { return Reply{Response(200, "")}; });
    port = std::stoi(server.Url().substr(17));
  }  // closed: nothing listens there now
  HttpClientOptions o = FastOptions();
  o.ca_bundle = "/nonexistent/ca.pem";  // ignored for plain http
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  Result<HttpResponse> r = MakeCurlHttpClient(o)->Send(request);
  CHECK(r.status().code() == Code::kUnavailable);
  CHECK(r.status().message().find("127.0.0.1") != std::string::npos);
}

TEST_CASE("HTTP: a CA bundle option never breaks plain http, HEAD has no body") {
  ScriptedServer server(
      [](const Received&) { return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n"}; });
  HttpClientOptions o = FastOptions();
  o.ca_bundle = "/nonexistent/ca.pem";
  HttpRequest request;
  request.method = "HEAD";
  request.url = server.Url();
  Result<HttpResponse> r = MakeCurlHttpClient(o)->Send(request);
  REQUIRE(r.ok());
  CHECK(r->Header("content-length") == "12345");
  CHECK(r->body.empty());
}

TEST_CASE("HTTP: uploads send the body with a length and no Expect") {
  Received seen;
  ScriptedServer server([&](const Received& r) {
    seen = r;
    return Reply{Response(200, "")};
  });
  const std::string payload(300000, 'p');
  HttpRequest request;
  request.method = "PUT";
  request.url = server.Url("/bkt/key");
  request.body = payload;
  Result<HttpResponse> r = MakeCurlHttpClient(FastOptions())->Send(request);
  REQUIRE(r.ok());
  CHECK(seen.head.starts_with("PUT /bkt/key HTTP/1.1"));
  CHECK(seen.head.find("Expect") == std::string::npos);
  CHECK(seen.body == payload);
}

TEST_CASE("HTTP: many threads have transfers in flight at once") {
  std::atomic<int> in_flight{0};
  std::atomic<int> peak{0};
  ScriptedServer server([&](const Received& r) {
    const int now = ++in_flight;
    int expected = peak.load();
    while (now > expected && !peak.compare_exchange_weak(expected, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    --in_flight;
    const size_t at = r.head.find("/n/");
    return Reply{Response(200, r.head.substr(at + 3, r.head.find(' ', at) - at - 3))};
  });
  auto client = MakeCurlHttpClient(FastOptions());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string id = std::to_string(t * 100 + i);
        HttpRequest request;
        request.url = server.Url("/n/" + id);
        Result<HttpResponse> r = client->Send(request);
        if (!r.ok() || r->body != id) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  CHECK(peak >= 2);
  CHECK(server.connections() <= 8);  // handles, and their connections, are reused
}
