#include "app/ingest_client.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

namespace betterdev::app {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bh = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;
using Json = nlohmann::json;

struct Target {
  std::string host;
  std::string port;
};

std::optional<Target> ParseServer(const std::string& url) {
  std::string_view u(url);
  if (!u.starts_with("http://")) return std::nullopt;
  u.remove_prefix(7);
  u = u.substr(0, u.find('/'));
  size_t colon = u.rfind(':');
  if (colon == std::string_view::npos) return Target{std::string(u), "80"};
  return Target{std::string(u.substr(0, colon)), std::string(u.substr(colon + 1))};
}

// One keep-alive connection; reconnects when the server closed it.
class Client {
 public:
  Client(Target t, std::string token) : target_(std::move(t)), token_(std::move(token)) {}

  template <typename Body>
  bh::response<bh::string_body> Send(bh::request<Body>& req) {
    req.set(bh::field::host, target_.host);
    req.set(bh::field::authorization, "Bearer " + token_);
    for (int attempt = 0;; ++attempt) {
      try {
        if (!stream_) Connect();
        req.prepare_payload();
        bh::write(*stream_, req);
        beast::flat_buffer buffer;
        bh::response_parser<bh::string_body> parser;
        parser.body_limit(64 << 20);
        bh::read(*stream_, buffer, parser);
        auto res = parser.release();
        if (!res.keep_alive()) stream_.reset();
        return res;
      } catch (const std::exception&) {
        stream_.reset();
        if (attempt >= 1) throw;
      }
    }
  }

 private:
  void Connect() {
    tcp::resolver resolver(ioc_);
    stream_ = std::make_unique<beast::tcp_stream>(ioc_);
    stream_->connect(resolver.resolve(target_.host, target_.port));
  }
  asio::io_context ioc_;
  Target target_;
  std::string token_;
  std::unique_ptr<beast::tcp_stream> stream_;
};

struct Item {
  std::string path;
  std::string name;
  std::string document_id;
  std::string status = "uploading";
  std::string detail;
  int progress = 0;
  bool done = false;
};

std::string PercentEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == ' ') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hex[c >> 4]);
      out.push_back(hex[c & 15]);
    }
  }
  return out;
}

std::string Bar(int percent, int width) {
  int filled = std::clamp(percent, 0, 100) * width / 100;
  return "[" + std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), '-') + "]";
}

std::string Line(const Item& it) {
  std::string name = it.name.size() > 40 ? it.name.substr(0, 37) + "..." : it.name;
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", it.progress);
  return Bar(it.progress, 20) + " " + pct + " " + name + "  " + it.status + (it.detail.empty() ? "" : " " + it.detail);
}

std::string ErrorMessage(const std::string& body) {
  Json j = Json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_object()) return j["error"].value("message", body);
  return body;
}

}  // namespace

int RunIngestClient(const Invocation& inv) {
  auto target = ParseServer(inv.server_url);
  if (!target) {
    std::cerr << "error: --server must be an http:// URL\n";
    return 2;
  }
  if (inv.token.empty()) {
    std::cerr << "error: --token (BETTERDEV_TOKEN) is required: an access token or API key\n";
    return 2;
  }
  std::vector<Item> items;
  for (const std::string& p : inv.paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<std::string> found;
      for (const auto& e : fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec))
        if (e.is_regular_file()) found.push_back(e.path().string());
      std::sort(found.begin(), found.end());
      for (std::string& f : found) items.push_back({f, fs::path(f).filename().string()});
    } else if (fs::is_regular_file(p, ec)) {
      items.push_back({p, fs::path(p).filename().string()});
    } else {
      std::cerr << "error: " << p << ": no such file or folder\n";
      return 2;
    }
  }
  if (items.empty()) {
    std::cerr << "error: no files to ingest\n";
    return 2;
  }
  const bool tty = ::isatty(STDERR_FILENO);
  size_t drawn = 0;
  auto draw = [&](bool final) {
    if (!tty && !final) return;
    if (tty && drawn > 0) std::cerr << "\033[" << drawn << "A";
    int sum = 0, finished = 0;
    for (const Item& it : items) {
      std::cerr << "\r\033[K" << Line(it) << "\n";
      sum += it.progress;
      finished += it.done;
    }
    int overall = sum / static_cast<int>(items.size());
    std::cerr << "\r\033[K" << Bar(overall, 20) << " overall: " << finished << " of " << items.size() << " done\n";
    drawn = items.size() + 1;
  };
  auto note = [&](const Item& it) {
    if (!tty) std::cerr << it.name << ": " << it.status << (it.detail.empty() ? "" : " " + it.detail) << "\n";
  };

  Client client(*target, inv.token);
  try {
    for (Item& it : items) {
      bh::request<bh::file_body> req{bh::verb::post, "/v1/documents", 11};
      beast::error_code ec;
      req.body().open(it.path.c_str(), beast::file_mode::scan, ec);
      if (ec) {
        it.status = "failed";
        it.detail = "cannot read: " + ec.message();
        it.done = true;
        note(it);
        continue;
      }
      req.set(bh::field::content_type, "application/octet-stream");
      req.set("X-Filename", PercentEncode(it.name));
      bh::response<bh::string_body> res;
      try {
        res = client.Send(req);
      } catch (const std::exception& e) {
        it.status = "failed";
        it.detail = std::string("upload failed: ") + e.what();
        it.done = true;
        note(it);
        continue;
      }
      if (res.result_int() != 200 && res.result_int() != 202) {
        it.status = "failed";
        it.detail = "upload rejected (" + std::to_string(res.result_int()) + "): " + ErrorMessage(res.body());
        it.done = true;
        note(it);
        continue;
      }
      Json j = Json::parse(res.body(), nullptr, false);
      it.document_id = j.value("document_id", "");
      it.status = j.value("status", "queued");
      note(it);
      draw(false);
    }
    std::map<std::string, std::string> last_status;
    for (;;) {
      bool pending = false;
      for (Item& it : items) {
        if (it.done) continue;
        bh::request<bh::empty_body> req{bh::verb::get, "/v1/documents/" + it.document_id, 11};
        auto res = client.Send(req);
        if (res.result_int() != 200) {
          it.status = "failed";
          it.detail = ErrorMessage(res.body());
          it.done = true;
          note(it);
          continue;
        }
        Json d = Json::parse(res.body(), nullptr, false);
        it.status = d.value("status", "");
        it.progress = d.value("progress", 0);
        it.detail.clear();
        if (it.status == "processing") {
          it.detail = d["stage"].is_string() ? d["stage"].get<std::string>() : "";
          if (d.value("pages", 0) > 0)
            it.detail += " page " + std::to_string(d.value("page", 0)) + "/" + std::to_string(d.value("pages", 0));
        } else if (it.status == "failed") {
          it.detail = d["error"].is_string() ? d["error"].get<std::string>() : "";
        } else if (it.status == "ready") {
          it.detail = std::to_string(d.value("pages", 0)) + " pages, " + std::to_string(d.value("chunk_count", 0)) +
                      " chunks";
        }
        it.done = it.status == "ready" || it.status == "failed";
        if (last_status[it.document_id] != it.status) note(it);
        last_status[it.document_id] = it.status;
        pending = pending || !it.done;
      }
      draw(false);
      if (!pending) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
  } catch (const std::exception& e) {
    std::cerr << "error: cannot reach " << inv.server_url << ": " << e.what() << "\n";
    return 1;
  }
  draw(true);
  int ready = 0, failed = 0;
  for (const Item& it : items) (it.status == "ready" ? ready : failed)++;
  std::cout << ready << " ready, " << failed << " failed\n";
  for (const Item& it : items)
    if (it.status != "ready") std::cout << "  failed: " << it.path << ": " << it.detail << "\n";
  return failed > 0 ? 1 : 0;
}

}  // namespace betterdev::app
