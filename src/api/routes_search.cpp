// POST /v1/search: keyword, vector or hybrid search over the caller's documents.
#include "api/on_pool.hpp"
#include "api/routes.hpp"

namespace betterdev::api {

void RegisterSearchRoutes(ApiRouter& r, Services& s) {
  using http::Method;
  // The body is checked on the I/O thread; the search itself (SQLite reads, maybe a remote
  // embedding of the query) runs on a pool of its own, so searches never queue behind logins
  // (argon2id) or uploads on the shared blocking pool, nor those behind searches.
  http::RouteOptions json{s.http.max_json_body_bytes, false};
  auto pool = std::make_shared<TaskPool>(std::max(1, s.search_config.threads));

  r.Authed(Method::kPost, "/v1/search",
           {"Search the chunks of your ready documents (hybrid: keyword and vector, fused)", "search",
            Ref("SearchRequest"), 200, Ref("SearchResults"), "application/json", {404}},
           [&s, pool](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(body, JsonBody::Parse(req, {"query", "document_ids", "k", "mode", "group_by"}));
             API_ASSIGN(query, body.String("query", true));
             API_ASSIGN(docs, body.StringArray("document_ids"));
             API_ASSIGN(k, body.Int("k", 1, search::kMaxK));
             API_ASSIGN(mode_name, body.String("mode", false));
             API_ASSIGN(group_by, body.String("group_by", false));
             search::Request request;
             request.user_id = who.user_id;
             request.query = std::move(*query);
             request.document_ids = docs.value_or(std::vector<std::string>{});
             request.k = static_cast<int>(k.value_or(10));
             const std::string mode = mode_name.value_or("hybrid");
             if (mode == "vector") request.mode = search::Mode::kVector;
             else if (mode == "keyword") request.mode = search::Mode::kKeyword;
             else if (mode != "hybrid") return ErrorResponse({400, "invalid_request", "mode must be hybrid, vector or keyword"});
             const std::string grouping = group_by.value_or("chunk");
             if (grouping != "chunk" && grouping != "document") {
               return ErrorResponse({400, "invalid_request", "group_by must be chunk or document"});
             }
             request.group_by_document = grouping == "document";
             if (request.document_ids.size() > 1000) {
               return ErrorResponse({400, "invalid_request", "document_ids may name at most 1000 documents"});
             }
             if (request.query.size() > 4096) {
               return ErrorResponse({400, "invalid_request", "query must be at most 4096 bytes"});
             }
             http::Request for_errors;  // what an error's log line names
             for_errors.request_id = req.request_id;
             for_errors.path = req.path;
             return OnPool(pool, [&s, request = std::move(request), mode, req_copy = std::move(for_errors)]() {
               auto hits = s.search.Search(request);
               if (!hits.ok()) return ErrorResponse(hits.status(), req_copy, s.log);
               JsonWriter w;
               w.BeginObject().Key("data").BeginArray();
               for (const search::Hit& h : *hits) {
                 w.BeginObject();
                 WriteChunkFields(w, h.chunk);
                 w.Key("document_name").String(h.document_name).Key("score").Double(h.score).EndObject();
               }
               const embed::EmbeddingModel model = s.search.model();
               w.EndArray().Key("mode").String(mode).Key("model").String(model.id + "/" + std::to_string(model.dimension));
               w.EndObject();
               return http::Response::Json(200, w.Take());
             });
           },
           json);
}

}  // namespace betterdev::api
