// Documents: upload (streamed), status, chunks, delete.
#include "api/routes.hpp"
#include "api/upload.hpp"

namespace betterdev::api {

void WriteDocument(JsonWriter& w, const store::Document& d) {
  w.BeginObject().Key("id").String(d.id).Key("filename").String(d.filename);
  w.Key("content_type").String(d.content_type).Key("size_bytes").Int(static_cast<int64_t>(d.size_bytes));
  w.Key("sha256").String(d.sha256).Key("status").String(store::DocumentStatusName(d.status));
  w.Key("stage");
  if (d.stage.empty()) w.Null();
  else w.String(d.stage);
  w.Key("progress").Int(d.progress).Key("page").Int(d.page).Key("pages").Int(d.pages);
  w.Key("chunk_count").Int(d.chunk_count).Key("text_chars").Int(d.text_chars).Key("attempts").Int(d.attempts);
  w.Key("error");
  if (d.error.empty()) w.Null();
  else w.String(d.error);
  w.Key("job_id").String(d.job_id).Key("created_at").Timestamp(d.created_at).Key("updated_at").Timestamp(d.updated_at);
  w.Key("finished_at");
  if (d.finished_at) w.Timestamp(*d.finished_at);
  else w.Null();
  w.Key("embedding_tokens").Int(d.embedding_tokens).Key("embedding_cost_usd").Double(d.embedding_cost_usd);
  w.Key("note");
  if (d.note.empty()) w.Null();
  else w.String(d.note);
  w.EndObject();
}

void WriteChunkFields(JsonWriter& w, const store::StoredChunk& c) {
  w.Key("id").String(store::ChunkId(c.document_id, c.ordinal)).Key("document_id").String(c.document_id);
  w.Key("ordinal").Int(c.ordinal).Key("page_start").Int(c.page_start).Key("page_end").Int(c.page_end);
  w.Key("char_start").Int(c.char_start).Key("char_end").Int(c.char_end).Key("text").String(c.text);
  w.Key("context").String(c.context).Key("section").String(c.section);
}

namespace {

void WriteChunk(JsonWriter& w, const store::StoredChunk& c) {
  w.BeginObject();
  WriteChunkFields(w, c);
  w.EndObject();
}

Json UploadContent() {
  return {{"multipart/form-data",
           {{"schema",
             {{"type", "object"},
              {"properties",
               {{"file", {{"type", "array"}, {"items", {{"type", "string"}, {"contentMediaType", "application/octet-stream"}}}}}}},
              {"description", "One or more file fields (any field name); other fields are ignored"}}}}},
          {"application/octet-stream",
           {{"schema", {{"type", "string"}, {"contentMediaType", "application/octet-stream"}}},
            {"description", "The raw bytes; name the file with the X-Filename header (percent-encoding allowed)"}}}};
}

}  // namespace

void RegisterDocumentRoutes(ApiRouter& r, Services& s) {
  using http::Method;
  // The whole request: the files plus multipart framing.
  http::RouteOptions upload{s.ingest_config.max_upload_bytes + (1 << 20), false};

  // One file: the object; several: {"data": [...]}. 202 when a job was queued, 200 when every
  // file was already uploaded (deduplicated).
  Json several = {{"type", "object"},
                 {"required", {"data"}},
                 {"properties", {{"data", {{"type", "array"}, {"items", Ref("DocumentUpload")}}}}}};
  Json upload_answer = {{"oneOf", Json::array({Ref("DocumentUpload"), several})}};
  OperationDoc up{"Upload files for ingestion (answers before any parsing)", "documents", {}, 202, upload_answer};
  up.errors = {413, 415};
  up.other_successes = {{200, upload_answer}};
  up.request_content = UploadContent();
  up.query_params = Json::array({{{"name", "reprocess"}, {"in", "query"}, {"schema", {{"type", "boolean"}}},
                                  {"description", "process again even when the same bytes were uploaded before"}}});
  r.AuthedStreaming(
      Method::kPost, "/v1/documents", up,
      [&s](http::Request& req, const auth::Principal& who) { return StartUpload(s, req, who.user_id); }, upload);

  OperationDoc list{"List documents, newest first", "documents", {}, 200, ListOf("Document"), "application/json",
                    {}, true};
  list.query_params = Json::array({{{"name", "status"}, {"in", "query"}, {"schema", Ref("DocumentStatus")}}});
  r.Authed(Method::kGet, "/v1/documents", list, [&s](http::Request& req, const auth::Principal& who) {
    API_ASSIGN(page, ParsePage(req));
    std::optional<store::DocumentStatus> status;
    if (auto st = req.QueryParam("status")) {
      status = store::ParseDocumentStatus(*st);
      if (!status) return ErrorResponse(HttpError{400, "invalid_request", "status must be queued, processing, ready or failed"});
    }
    auto docs = s.ingest.List(who.user_id, page, status);
    if (!docs.ok()) return ErrorResponse(docs.status(), req, s.log);
    return ListResponse(*docs, WriteDocument);
  });

  r.Authed(Method::kGet, "/v1/documents/{id}",
           {"A document's status, progress and sizes", "documents", {}, 200, Ref("Document"), "application/json", {404}},
           [&s](http::Request& req, const auth::Principal& who) {
             auto d = s.ingest.Get(who.user_id, std::string(req.PathParam("id")));
             if (!d.ok()) return ErrorResponse(d.status(), req, s.log);
             return ObjectResponse(200, *d, WriteDocument);
           });

  r.Authed(Method::kGet, "/v1/documents/{id}/chunks",
           {"A document's chunks in order", "documents", {}, 200, ListOf("Chunk"), "application/json", {404}, true},
           [&s](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(page, ParsePage(req));
             auto chunks = s.ingest.Chunks(who.user_id, std::string(req.PathParam("id")), page);
             if (!chunks.ok()) return ErrorResponse(chunks.status(), req, s.log);
             JsonWriter w;
             w.BeginObject().Key("data").BeginArray();
             for (const store::StoredChunk& c : chunks->items) WriteChunk(w, c);
             w.EndArray().Key("next_cursor");
             if (chunks->has_more && !chunks->items.empty()) {
               const store::StoredChunk& last = chunks->items.back();
               w.String(EncodeCursor(store::ChunkId(last.document_id, last.ordinal)));
             } else {
               w.Null();
             }
             w.EndObject();
             return http::Response::Json(200, w.Take());
           });

  r.Authed(Method::kGet, "/v1/documents/{id}/chunks/{chunk_id}",
           {"One chunk (what a citation opens): its passage, pages and offsets", "documents", {}, 200,
            Ref("CitedChunk"), "application/json", {404}},
           [&s](http::Request& req, const auth::Principal& who) {
             const std::string id(req.PathParam("id"));
             const std::string_view chunk_id = req.PathParam("chunk_id");
             // "<document id>_<ordinal>"
             const size_t sep = chunk_id.rfind('_');
             int ordinal = -1;
             if (sep != std::string_view::npos && chunk_id.substr(0, sep) == id && sep + 1 < chunk_id.size() &&
                 chunk_id.size() - sep - 1 <= 9 &&
                 chunk_id.substr(sep + 1).find_first_not_of("0123456789") == std::string_view::npos) {
               ordinal = std::stoi(std::string(chunk_id.substr(sep + 1)));
             }
             if (ordinal < 0) return ErrorResponse(HttpError{404, "not_found", "no such chunk"});
             auto doc = s.ingest.Get(who.user_id, id);
             if (!doc.ok()) return ErrorResponse(doc.status(), req, s.log);
             auto chunk = s.store.documents().GetChunk(who.user_id, id, ordinal);
             if (!chunk.ok()) return ErrorResponse(chunk.status(), req, s.log);
             JsonWriter w;
             w.BeginObject();
             WriteChunkFields(w, *chunk);
             w.Key("document_name").String(doc->filename).EndObject();
             return http::Response::Json(200, w.Take());
           });

  r.Authed(Method::kDelete, "/v1/documents/{id}",
           {"Delete a document, its chunks, its job and (when unused) its file", "documents", {}, 204, {},
            "application/json", {404}},
           [&s](http::Request& req, const auth::Principal& who) {
             const std::string id(req.PathParam("id"));
             Status st = s.ingest.Delete(who.user_id, id);
             if (!st.ok()) return ErrorResponse(st, req, s.log);
             s.search.ForgetDocument(who.user_id, id);
             return http::Response::NoContent();
           },
           http::RouteOptions{1 << 20, true});
}

}  // namespace betterdev::api
