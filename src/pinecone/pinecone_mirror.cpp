#include "pinecone/pinecone_mirror.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <string_view>
#include <thread>

namespace betterdev::pinecone {
namespace {

using Json = nlohmann::json;

constexpr size_t kMaxUpsertBytes = 2 * 1000 * 1000;  // Pinecone's limit per upsert request
constexpr int kMaxTopK = 1000;                        // with metadata included

std::string Truncated(const std::string& text, size_t n = 300) {
  return text.size() <= n ? text : text.substr(0, n) + "...";
}

// Pinecone answers errors as {"code": 3, "message": "..."}, {"error": {"code", "message"}}, or
// plain text ("Unauthorized").
std::string ErrorMessage(const httpclient::Answer& a) {
  Json j = Json::parse(a.body, nullptr, false);
  if (j.is_object()) {
    const Json& e = j.contains("error") && j["error"].is_object() ? j["error"] : j;
    if (e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
  }
  return a.body.empty() ? "(no body)" : Truncated(a.body);
}

Json ModelFilter(const store::VectorModel& model) {
  return Json::array({{{"model", {{"$eq", model.id}}}}, {{"dimension", {{"$eq", model.dimension}}}}});
}

std::string IdOf(const store::ChunkAt& at, const store::VectorModel& model) {
  return at.document_id + "#" + at.job_id + "#" + std::to_string(at.ordinal) + "#" + model.id + "/" +
         std::to_string(model.dimension);
}

class PineconeMirror final : public store::VectorMirror {
 public:
  explicit PineconeMirror(PineconeOptions o) : o_(std::move(o)) {
    base_ = o_.index_host;
    if (base_.find("://") == std::string::npos) base_ = "https://" + base_;
    while (!base_.empty() && base_.back() == '/') base_.pop_back();
  }

  std::string_view name() const override { return "pinecone"; }

  Status Put(const store::VectorModel& model, std::span<const store::MirroredVector> vectors) override {
    // One namespace (user) per request; a batch ends at `batch` vectors or near 2 MB.
    size_t i = 0;
    while (i < vectors.size()) {
      const std::string& user = vectors[i].user_id;
      Json items = Json::array();
      size_t bytes = 0;
      for (; i < vectors.size() && vectors[i].user_id == user && items.size() < static_cast<size_t>(o_.batch); ++i) {
        const store::MirroredVector& v = vectors[i];
        if (static_cast<int>(v.vector.size()) != model.dimension) {
          return Status::InvalidArgument("a vector has " + std::to_string(v.vector.size()) + " dimensions, the model " +
                                         std::to_string(model.dimension));
        }
        Json item = {{"id", IdOf(v.at, model)},
                     {"values", Json(std::vector<float>(v.vector.begin(), v.vector.end()))},
                     {"metadata",
                      {{"document_id", v.at.document_id},
                       {"job_id", v.at.job_id},
                       {"ordinal", v.at.ordinal},
                       {"model", model.id},
                       {"dimension", model.dimension}}}};
        const size_t size = item.dump().size();
        if (!items.empty() && bytes + size > kMaxUpsertBytes - 4096) break;
        bytes += size;
        items.push_back(std::move(item));
      }
      Json body = {{"vectors", std::move(items)}, {"namespace", user}};
      Result<Json> r = Call("/vectors/upsert", body, o_.max_attempts);
      if (!r.ok()) return r.status();
    }
    return Status::Ok();
  }

  Result<std::vector<store::MirrorHit>> Query(const store::VectorModel& model, const store::SearchScope& scope,
                                              std::span<const float> query, int limit) override {
    if (static_cast<int>(query.size()) != model.dimension) {
      return Status::InvalidArgument("the query has " + std::to_string(query.size()) + " dimensions, the model " +
                                     std::to_string(model.dimension));
    }
    Json all = ModelFilter(model);
    if (!scope.document_ids.empty()) all.push_back({{"document_id", {{"$in", scope.document_ids}}}});
    Json body = {{"namespace", scope.user_id},
                 {"vector", Json(std::vector<float>(query.begin(), query.end()))},
                 {"topK", std::clamp(limit, 1, kMaxTopK)},
                 {"filter", {{"$and", std::move(all)}}},
                 {"includeMetadata", true},
                 {"includeValues", false}};
    // (404: a user with nothing stored yet has no namespace.)
    Result<Json> r = Call("/query", body, o_.query_attempts, /*missing_is_ok=*/true, /*waiting=*/true);
    if (!r.ok()) return r.status();
    std::vector<store::MirrorHit> hits;
    if (r->empty()) return hits;
    if (!r->contains("matches") || !(*r)["matches"].is_array()) {
      return Status::Unavailable("Pinecone's query answer has no matches array");
    }
    for (const Json& m : (*r)["matches"]) {
      if (!m.is_object() || !m.contains("metadata") || !m["metadata"].is_object()) continue;
      const Json& meta = m["metadata"];
      if (!meta.contains("document_id") || !meta["document_id"].is_string() || !meta.contains("job_id") ||
          !meta["job_id"].is_string() || !meta.contains("ordinal") || !meta["ordinal"].is_number()) {
        continue;  // not one of ours
      }
      store::MirrorHit hit;
      hit.at.document_id = meta["document_id"].get<std::string>();
      hit.at.job_id = meta["job_id"].get<std::string>();
      hit.at.ordinal = static_cast<int>(meta["ordinal"].get<double>());
      hit.score = m.contains("score") && m["score"].is_number() ? m["score"].get<double>() : 0.0;
      hits.push_back(std::move(hit));
    }
    std::stable_sort(hits.begin(), hits.end(),
                     [](const store::MirrorHit& a, const store::MirrorHit& b) { return a.score > b.score; });
    return hits;
  }

  Status DeleteDocument(const std::string& user_id, const std::string& document_id,
                        const std::string& only_job) override {
    // Ids start with "<document>#<job>#", so an index that refuses filters lists them instead.
    const std::string prefix = document_id + "#" + (only_job.empty() ? "" : only_job + "#");
    if (!no_filter_delete_.load()) {
      Json filter = {{"document_id", {{"$eq", document_id}}}};
      if (!only_job.empty()) filter = {{"$and", Json::array({filter, {{"job_id", {{"$eq", only_job}}}}})}};
      Json body = {{"namespace", user_id}, {"filter", std::move(filter)}};
      Result<Json> r = Call("/vectors/delete", body, o_.max_attempts, /*missing_is_ok=*/true);
      if (!RefusesFilters(r.status())) return r.status();
      no_filter_delete_.store(true);
    }
    Result<std::vector<std::string>> ids = ListIds(user_id, prefix);
    if (!ids.ok()) return ids.status();
    return DeleteIds(user_id, *ids);
  }

  Status DropModelsExcept(const store::VectorModel& model) override {
    Result<Json> stats = Call("/describe_index_stats", Json::object(), o_.max_attempts);
    if (!stats.ok()) return stats.status();
    if (!stats->contains("namespaces") || !(*stats)["namespaces"].is_object()) return Status::Ok();
    Json other = {{"$or", Json::array({{{"model", {{"$ne", model.id}}}}, {{"dimension", {{"$ne", model.dimension}}}}})}};
    const std::string suffix = "#" + model.id + "/" + std::to_string(model.dimension);
    for (const auto& [ns, _] : (*stats)["namespaces"].items()) {
      if (!no_filter_delete_.load()) {
        Result<Json> r = Call("/vectors/delete", {{"namespace", ns}, {"filter", other}}, o_.max_attempts, true);
        if (r.ok()) continue;
        if (!RefusesFilters(r.status())) return r.status();
        no_filter_delete_.store(true);
      }
      Result<std::vector<std::string>> ids = ListIds(ns, "");
      if (!ids.ok()) return ids.status();
      std::erase_if(*ids, [&](const std::string& id) { return id.ends_with(suffix); });
      BD_RETURN_IF_ERROR(DeleteIds(ns, *ids));
    }
    return Status::Ok();
  }

  Status Ping() override { return Call("/describe_index_stats", Json::object(), 1).status(); }

  Status CheckFits(const store::VectorModel& model) override {
    Result<Json> stats = Call("/describe_index_stats", Json::object(), 2);
    if (!stats.ok()) return stats.status();
    const Json& dimension = stats->contains("dimension") ? (*stats)["dimension"] : Json();
    if (model.dimension > 0 && dimension.is_number_integer() && dimension.get<int64_t>() != model.dimension) {
      return Status::InvalidArgument("the Pinecone index has " + std::to_string(dimension.get<int64_t>()) +
                                     " dimensions; the embedding model " + model.id + " gives " +
                                     std::to_string(model.dimension) + ": use an index of " +
                                     std::to_string(model.dimension) + " dimensions with the cosine metric");
    }
    // Scores are similarities fused with the keyword leg's: euclidean distances would rank
    // backwards, dot products of vectors that are not unit length would not be comparable.
    const Json& metric = stats->contains("metric") ? (*stats)["metric"] : Json();
    if (metric.is_string() && metric.get<std::string>() != "cosine") {
      return Status::InvalidArgument("the Pinecone index compares vectors by " + metric.get<std::string>() +
                                     "; betterdev needs an index with the cosine metric");
    }
    return Status::Ok();
  }

 private:
  // Serverless and starter indexes refuse deletes by metadata filter (400: "Serverless and
  // Starter indexes do not support deleting with metadata filtering."): their vectors are then
  // listed by id prefix and deleted by id. Learnt at the first refusal, for the process.
  static bool RefusesFilters(const Status& s) {
    return s.code() == StatusCode::kInvalidArgument && s.message().find("deleting with metadata filter") != std::string::npos;
  }

  static std::string Encoded(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
      if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
        out.push_back(static_cast<char>(c));
      } else {
        out += {'%', kHex[c >> 4], kHex[c & 15]};
      }
    }
    return out;
  }

  // Every id in namespace `ns` starting with `prefix` (GET /vectors/list, page by page).
  Result<std::vector<std::string>> ListIds(const std::string& ns, const std::string& prefix) {
    std::vector<std::string> ids;
    std::string token;
    do {
      std::string path = "/vectors/list?namespace=" + Encoded(ns) + "&limit=100";
      if (!prefix.empty()) path += "&prefix=" + Encoded(prefix);
      if (!token.empty()) path += "&paginationToken=" + Encoded(token);
      Result<Json> page = Call(path, Json(), o_.max_attempts, /*missing_is_ok=*/true, /*waiting=*/false, "GET");
      if (!page.ok()) return page.status();
      token.clear();
      if (page->contains("vectors") && (*page)["vectors"].is_array()) {
        for (const Json& v : (*page)["vectors"])
          if (v.is_object() && v.contains("id") && v["id"].is_string()) ids.push_back(v["id"].get<std::string>());
      }
      if (page->contains("pagination") && (*page)["pagination"].is_object()) {
        const Json& next = (*page)["pagination"];
        if (next.contains("next") && next["next"].is_string()) token = next["next"].get<std::string>();
      }
    } while (!token.empty());
    return ids;
  }

  Status DeleteIds(const std::string& ns, const std::vector<std::string>& ids) {
    constexpr size_t kMaxIds = 1000;  // Pinecone's limit a delete
    for (size_t at = 0; at < ids.size(); at += kMaxIds) {
      Json batch = Json::array();
      for (size_t i = at; i < std::min(ids.size(), at + kMaxIds); ++i) batch.push_back(ids[i]);
      Result<Json> r = Call("/vectors/delete", {{"namespace", ns}, {"ids", std::move(batch)}}, o_.max_attempts, true);
      if (!r.ok()) return r.status();
    }
    return Status::Ok();
  }

  // POSTs `body` (or GETs `path`, with `method` "GET"); the answer's JSON on 200. Retries 429, 5xx and no answer up to `attempts`.
  // With `missing_is_ok`, 404 (a namespace that does not exist yet) counts as done. With
  // `waiting` (someone waits for the answer), the query timeout and the plain backoff apply,
  // never a long Retry-After.
  Result<Json> Call(const std::string& path, const Json& body, int attempts, bool missing_is_ok = false,
                    bool waiting = false, const char* method = "POST") {
    httpclient::Request request;
    request.method = method;
    request.url = base_ + path;
    request.headers = {{"Content-Type", "application/json"},
                       {"Api-Key", o_.api_key},
                       {"X-Pinecone-Api-Version", o_.api_version}};
    if (request.method != "GET") request.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    request.connect_timeout_ms = o_.connect_timeout_ms;
    request.timeout_ms = waiting ? o_.query_timeout_ms : o_.request_timeout_ms;
    std::string last_problem;
    for (int attempt = 1;; ++attempt) {
      httpclient::Answer a = o_.client->Send(request);
      if (a.status == 200 || (missing_is_ok && a.status == 404)) {
        if (a.status == 404) return Json::object();
        Json j = Json::parse(a.body, nullptr, false);
        if (j.is_object()) return j;
        last_problem = "the answer to " + path + " is not JSON: " + Truncated(a.body, 100);
      } else if (a.status == 0) {
        last_problem = "no answer from " + base_ + ": " + a.error;
      } else if (a.status == 429 || a.status >= 500) {
        last_problem = "HTTP " + std::to_string(a.status) + ": " + ErrorMessage(a);
      } else {
        const std::string what = "Pinecone refused " + path + " (HTTP " + std::to_string(a.status) + "): " + ErrorMessage(a);
        if (a.status == 401 || a.status == 403) return Status::PermissionDenied(what);
        return Status::InvalidArgument(what);
      }
      if (attempt >= attempts) {
        return Status::Unavailable("Pinecone " + path + " failed after " + std::to_string(attempt) +
                                   (attempt == 1 ? " attempt: " : " attempts: ") + last_problem);
      }
      std::this_thread::sleep_for(
          httpclient::Backoff(attempt, waiting ? -1 : a.retry_after_seconds, o_.base_backoff_ms, o_.max_backoff_ms));
    }
  }

  PineconeOptions o_;
  std::string base_;
  std::atomic<bool> no_filter_delete_{false};
};

}  // namespace

Result<std::unique_ptr<store::VectorMirror>> NewPineconeMirror(PineconeOptions options) {
  if (options.index_host.empty()) return Status::InvalidArgument("Pinecone needs the index host (BETTERDEV_PINECONE_INDEX_HOST)");
  if (options.api_key.empty()) return Status::InvalidArgument("Pinecone needs an API key (BETTERDEV_PINECONE_API_KEY)");
  if (!options.client) options.client = httpclient::NewClient();
  options.batch = std::clamp(options.batch, 1, 1000);
  options.max_attempts = std::max(options.max_attempts, 1);
  options.query_attempts = std::max(options.query_attempts, 1);
  return std::unique_ptr<store::VectorMirror>(std::make_unique<PineconeMirror>(std::move(options)));
}

}  // namespace betterdev::pinecone
