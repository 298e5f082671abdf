// For tests: the Pinecone stand-in (testdata/pinecone_standin.mjs, Pinecone's data-plane wire
// format and errors) on a free loopback port, for an index of `dimension`. Stopped when
// destroyed.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <string>

#include "httpclient/http_client.hpp"
#include "pinecone/pinecone_mirror.hpp"
#include "testutil/child.hpp"

namespace betterdev::pinecone {

class PineconeTestServer {
 public:
  static constexpr char kApiKey[] = "pinecone-test-key";

  // `filter_deletes` false: deletes by metadata filter are refused, as serverless indexes do.
  explicit PineconeTestServer(int dimension, const std::string& metric = "cosine", bool filter_deletes = true) {
    child_.Start({"node", BETTERDEV_PINECONE_STANDIN, "--dimension", std::to_string(dimension), "--api-key", kApiKey,
                  "--metric", metric, "--filter-deletes", filter_deletes ? "true" : "false"});
    nlohmann::json j = nlohmann::json::parse(child_.line(), nullptr, false);
    if (j.is_object() && j.contains("port")) port_ = j["port"].get<int>();
  }

  int port() const { return port_; }
  std::string host() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Options for this server, with quick retries.
  PineconeOptions options() const {
    PineconeOptions o;
    o.index_host = host();
    o.api_key = kApiKey;
    o.client = client_;
    o.base_backoff_ms = 5;
    o.max_backoff_ms = 50;
    return o;
  }

  // Faults for the next data requests, in order: a JSON list (see the stand-in).
  void Inject(const std::string& json) { Control("POST", "/_standin/faults", json); }
  // The requests so far, in order.
  nlohmann::json Log() { return nlohmann::json::parse(Control("GET", "/_standin/log", ""), nullptr, false); }

 private:
  std::string Control(const std::string& method, const std::string& path, const std::string& body) {
    httpclient::Request r;
    r.method = method;
    r.url = host() + path;
    r.body = body;
    r.headers = {{"Content-Type", "application/json"}};
    return client_->Send(r).body;
  }

  testutil::ChildServer child_;
  int port_ = 0;
  std::shared_ptr<httpclient::Client> client_ = httpclient::NewClient();
};

}  // namespace betterdev::pinecone
