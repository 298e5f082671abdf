#include "api/api_router.hpp"

#include <map>

namespace betterdev::api {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string StatusDescription(int status) {
  static const std::map<int, std::string> kText = {
      {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"}, {400, "Bad request"},
      {401, "Missing, invalid, expired or revoked token"}, {404, "Not found (also: another user's resource)"},
      {409, "Conflict"}, {413, "Request body too large"}, {415, "Unsupported media type"},
      {429, "Too many failed attempts; see Retry-After"}, {503, "A dependency is unavailable"}};
  auto it = kText.find(status);
  return it == kText.end() ? "Error" : it->second;
}

Json Schemas() {
  Json ts = {{"type", "string"}, {"format", "date-time"}};
  Json str = {{"type", "string"}};
  Json next_cursor = {{"type", {"string", "null"}}};
  return {
      {"Error",
       {{"type", "object"},
        {"required", {"error"}},
        {"properties",
         {{"error",
           {{"type", "object"},
            {"required", {"code", "message"}},
            {"properties", {{"code", str}, {"message", str}}}}}}}}},
      {"Credentials",
       {{"type", "object"},
        {"required", {"email", "password"}},
        {"additionalProperties", false},
        {"properties",
         {{"email", {{"type", "string"}, {"format", "email"}, {"maxLength", 254}}},
          {"password", {{"type", "string"}, {"minLength", 8}, {"maxLength", 1024}}}}}}},
      {"User",
       {{"type", "object"},
        {"required", {"id", "email", "created_at"}},
        {"properties", {{"id", str}, {"email", str}, {"created_at", ts}}}}},
      {"Token",
       {{"type", "object"},
        {"required", {"access_token", "token_type", "expires_in"}},
        {"properties",
         {{"access_token", str}, {"token_type", {{"const", "Bearer"}}}, {"expires_in", {{"type", "integer"}}}}}}},
      {"ApiKeyCreate",
       {{"type", "object"},
        {"additionalProperties", false},
        {"properties", {{"name", {{"type", "string"}, {"minLength", 1}, {"maxLength", 100}}}}}}},
      {"ApiKey",
       {{"type", "object"},
        {"required", {"id", "name", "prefix", "created_at", "last_used_at"}},
        {"properties",
         {{"id", str}, {"name", str}, {"prefix", str}, {"created_at", ts},
          {"last_used_at", {{"type", {"string", "null"}}, {"format", "date-time"}}}}}}},
      {"ApiKeyCreated",
       {{"allOf",
         {Ref("ApiKey"),
          {{"type", "object"},
           {"required", {"key"}},
           {"properties", {{"key", {{"type", "string"}, {"description", "The secret; shown only once."}}}}}}}}}},
      {"DocumentUpload",
       {{"type", "object"},
        {"required", {"document_id", "job_id", "status", "filename", "content_type", "size_bytes", "sha256",
                      "deduplicated"}},
        {"properties",
         {{"document_id", str}, {"job_id", str}, {"status", Ref("DocumentStatus")}, {"filename", str},
          {"content_type", str}, {"size_bytes", {{"type", "integer"}}}, {"sha256", str},
          {"deduplicated", {{"type", "boolean"}, {"description", "true: the same bytes were uploaded before"}}}}}}},
      {"DocumentStatus", {{"type", "string"}, {"enum", {"queued", "processing", "ready", "failed"}}}},
      {"SearchRequest",
       {{"type", "object"},
        {"required", {"query"}},
        {"properties",
         {{"query", str},
          {"document_ids", {{"type", "array"}, {"items", str}, {"description", "Only these documents (all when absent)"}}},
          {"k", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 10},
                 {"description", "Chunks, or documents with group_by document"}}},
          {"mode", {{"type", "string"}, {"enum", {"hybrid", "vector", "keyword"}}, {"default", "hybrid"}}},
          {"group_by", {{"type", "string"}, {"enum", {"chunk", "document"}}, {"default", "chunk"},
                        {"description", "document: the best chunk of each document, up to k documents"}}}}}}},
      {"SearchHit",
       {{"allOf",
         {Ref("Chunk"),
          {{"type", "object"},
           {"required", {"score", "document_name"}},
           {"properties",
            {{"score", {{"type", "number"}, {"description", "Higher is better; scale depends on the mode"}}},
             {"document_name", str}}}}}}}},
      {"SearchResults",
       {{"type", "object"},
        {"required", {"data", "mode", "model"}},
        {"properties",
         {{"data", {{"type", "array"}, {"items", Ref("SearchHit")}}},
          {"mode", str},
          {"model", {{"type", "string"}, {"description", "The embedding model whose vectors answered (id/dimension): after a change of model, the old one until every chunk is re-embedded"}}}}}}},
      {"Document",
       {{"type", "object"},
        {"required", {"id", "filename", "content_type", "size_bytes", "sha256", "status", "stage", "progress", "page",
                      "pages", "chunk_count", "text_chars", "attempts", "error", "job_id", "created_at", "updated_at",
                      "finished_at", "embedding_tokens", "embedding_cost_usd", "note"}},
        {"properties",
         {{"id", str}, {"filename", str}, {"content_type", str}, {"size_bytes", {{"type", "integer"}}},
          {"sha256", str}, {"status", Ref("DocumentStatus")},
          {"stage", {{"type", {"string", "null"}}, {"enum", {"extracting", "chunking", "embedding", "indexing", nullptr}}}},
          {"progress", {{"type", "integer"}, {"minimum", 0}, {"maximum", 100}}},
          {"page", {{"type", "integer"}}}, {"pages", {{"type", "integer"}}}, {"chunk_count", {{"type", "integer"}}},
          {"text_chars", {{"type", "integer"}}}, {"attempts", {{"type", "integer"}}},
          {"error", {{"type", {"string", "null"}}}}, {"job_id", str}, {"created_at", ts}, {"updated_at", ts},
          {"finished_at", {{"type", {"string", "null"}}, {"format", "date-time"}}},
          {"embedding_tokens", {{"type", "integer"}, {"description", "Tokens embedding its chunks cost (cached texts cost none)"}}},
          {"embedding_cost_usd",
           {{"type", "number"}, {"description", "Estimated: tokens x --embedding-price per million (0 for the local embedder)"}}},
          {"note",
           {{"type", {"string", "null"}},
            {"description", "What a reader should know about the text, e.g. that OCR read it poorly (a scan in a language whose OCR data is not installed)"}}}}}}},
      {"Chunk",
       {{"type", "object"},
        {"required",
         {"id", "document_id", "ordinal", "page_start", "page_end", "char_start", "char_end", "text", "context", "section"}},
        {"properties",
         {{"id", str}, {"document_id", str}, {"ordinal", {{"type", "integer"}}}, {"page_start", {{"type", "integer"}}},
          {"page_end", {{"type", "integer"}}}, {"char_start", {{"type", "integer"}}},
          {"char_end", {{"type", "integer"}}}, {"text", str},
          {"context",
           {{"type", "string"},
            {"description", "The header row of the table this chunk continues (a table split across chunks), "
                            "else empty. Not part of text or the offsets."}}},
          {"section",
           {{"type", "string"},
            {"description", "The headings above the chunk, outermost first, joined by \" \u203a \" (e.g. \"Item 1. "
                            "Financial Statements \u203a CONDENSED CONSOLIDATED BALANCE SHEETS\"), else empty. Searched "
                            "and embedded with the chunk; not part of text or the offsets."}}}}}}},
      {"ConversationCreate",
       {{"type", "object"},
        {"additionalProperties", false},
        {"properties",
         {{"title", {{"type", "string"}, {"maxLength", 200}}},
          {"document_ids", {{"type", "array"}, {"items", str}, {"maxItems", 100}, {"uniqueItems", true}}}}}}},
      {"Usage",
       {{"type", "object"},
        {"required", {"prompt_tokens", "completion_tokens", "cost_usd"}},
        {"properties",
         {{"prompt_tokens", {{"type", "integer"}}}, {"completion_tokens", {{"type", "integer"}}},
          {"cost_usd", {{"type", "number"}, {"description", "Estimated: tokens x the configured prices per million"}}}}}}},
      {"Conversation",
       {{"type", "object"},
        {"required", {"id", "title", "document_ids", "created_at", "updated_at", "usage"}},
        {"properties",
         {{"id", str}, {"title", str}, {"document_ids", {{"type", "array"}, {"items", str}}},
          {"created_at", ts}, {"updated_at", ts},
          {"usage", {{"allOf", {Ref("Usage")}}, {"description", "Summed over the conversation's answers"}}}}}}},
      {"Citation",
       {{"type", "object"},
        {"required",
         {"n", "chunk_id", "document_id", "document_name", "page_start", "page_end", "char_start", "char_end", "section"}},
        {"properties",
         {{"n", {{"type", "integer"}, {"description", "The [n] in the answer"}}}, {"chunk_id", str}, {"document_id", str},
          {"document_name", str}, {"page_start", {{"type", "integer"}}}, {"page_end", {{"type", "integer"}}},
          {"char_start", {{"type", "integer"}}}, {"char_end", {{"type", "integer"}}},
          {"section", {{"type", "string"}, {"description", "The cited chunk's heading path (see Chunk.section)"}}}}}}},
      {"Message",
       {{"type", "object"},
        {"required", {"id", "conversation_id", "role", "content", "created_at", "status", "model", "citations",
                      "invalid_citations", "usage", "error", "timings", "rewritten_query"}},
        {"properties",
         {{"id", str}, {"conversation_id", {{"type", {"string", "null"}}}},
          {"role", {{"enum", {"user", "assistant", "system"}}}}, {"content", str}, {"created_at", ts},
          {"status", {{"enum", {"complete", "incomplete"}}, {"description", "incomplete: the answer stopped early (see error)"}}},
          {"model", {{"type", {"string", "null"}}, {"description", "The answer's model: extractive-v1, gpt-4o-mini, ..."}}},
          {"citations", {{"type", "array"}, {"items", Ref("Citation")}}},
          {"invalid_citations", {{"type", "integer"}, {"description", "[n] markers removed because they named no passage"}}},
          {"usage", Ref("Usage")}, {"error", {{"type", {"string", "null"}}}},
          {"timings",
           {{"type", "object"},
            {"properties",
             {{"retrieval_ms", {{"type", {"integer", "null"}}}}, {"first_token_ms", {{"type", {"integer", "null"}}}},
              {"total_ms", {{"type", {"integer", "null"}}}}}}}},
          {"rewritten_query",
           {{"type", {"string", "null"}}, {"description", "A follow-up question as rewritten for retrieval"}}}}}}},
      {"MessageCreate",
       {{"type", "object"},
        {"required", {"content"}},
        {"additionalProperties", false},
        {"properties",
         {{"content", {{"type", "string"}, {"description", "The question"}}},
          {"k", {{"type", "integer"}, {"minimum", 1}, {"maximum", 20}, {"description", "Chunks to answer from (3)"}}},
          {"stream", {{"type", "boolean"},
                      {"description", "Server-Sent Events (also with Accept: text/event-stream): retrieval, token..., "
                                      "done | error"}}},
          {"document_ids", {{"type", "array"}, {"items", str}, {"description", "Scope; else the conversation's, else all"}}}}}}},
      {"CitedChunk",
       {{"allOf", {Ref("Chunk"), {{"type", "object"}, {"properties", {{"document_name", str}}}}}}}},
      {"Health", {{"type", "object"}, {"properties", {{"status", str}}}}},
      {"Readiness", {{"type", "object"}, {"properties", {{"status", str}, {"checks", {{"type", "object"}}}}}}},
      {"NextCursor", next_cursor},
  };
}

}  // namespace

Json Ref(const std::string& schema_name) { return {{"$ref", "#/components/schemas/" + schema_name}}; }

Json ListOf(const std::string& schema_name) {
  return {{"type", "object"},
          {"required", {"data", "next_cursor"}},
          {"properties", {{"data", {{"type", "array"}, {"items", Ref(schema_name)}}}, {"next_cursor", Ref("NextCursor")}}}};
}

void ApiRouter::Public(http::Method m, const std::string& pattern, OperationDoc doc, http::Handler h,
                       http::RouteOptions options) {
  router_.Add(m, pattern, std::move(h), options);
  ops_.push_back({m, pattern, std::move(doc), false});
}

std::variant<auth::Principal, http::Response> ApiRouter::Authenticate(const http::Request& req) {
  const std::string* header = req.FindHeader("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!header || header->size() <= kBearer.size() ||
      !http::EqualsIgnoreCase(std::string_view(*header).substr(0, kBearer.size()), kBearer))
    return ErrorResponse(HttpError{401, "unauthorized", "missing Authorization: Bearer token"});
  auto who = auth_.Authenticate(header->substr(kBearer.size()));
  if (!who.ok()) return ErrorResponse(who.status(), req, log_);
  return *who;
}

void ApiRouter::Authed(http::Method m, const std::string& pattern, OperationDoc doc, AuthedHandler h,
                       http::RouteOptions options) {
  auto wrapped = [this, h = std::move(h)](http::Request& req) -> http::Response {
    auto who = Authenticate(req);
    if (auto* denied = std::get_if<http::Response>(&who)) return std::move(*denied);
    return h(req, std::get<auth::Principal>(who));
  };
  router_.Add(m, pattern, std::move(wrapped), options);
  doc.errors.push_back(401);
  ops_.push_back({m, pattern, std::move(doc), true});
}

void ApiRouter::AuthedStreaming(http::Method m, const std::string& pattern, OperationDoc doc, AuthedStreamHandler h,
                                http::RouteOptions options) {
  auto wrapped = [this, h = std::move(h)](http::Request& req) -> http::StreamStart {
    auto who = Authenticate(req);
    if (auto* denied = std::get_if<http::Response>(&who)) return std::move(*denied);
    return h(req, std::get<auth::Principal>(who));
  };
  router_.AddStreaming(m, pattern, std::move(wrapped), options);
  doc.errors.push_back(401);
  ops_.push_back({m, pattern, std::move(doc), true});
}

Json ApiRouter::OpenApi() const {
  Json paths = Json::object();
  for (const Operation& op : ops_) {
    Json o = {{"summary", op.doc.summary}, {"tags", {op.doc.tag}}};
    o["operationId"] = Lower(http::MethodName(op.method)) + op.pattern;
    Json params = Json::array();
    size_t pos = 0;
    while ((pos = op.pattern.find('{', pos)) != std::string::npos) {
      size_t end = op.pattern.find('}', pos);
      params.push_back({{"name", op.pattern.substr(pos + 1, end - pos - 1)},
                        {"in", "path"},
                        {"required", true},
                        {"schema", {{"type", "string"}}}});
      pos = end;
    }
    if (op.doc.paginated) {
      params.push_back({{"name", "limit"}, {"in", "query"},
                        {"schema", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 50}}}});
      params.push_back({{"name", "cursor"}, {"in", "query"}, {"schema", {{"type", "string"}}},
                        {"description", "next_cursor from the previous page"}});
    }
    if (op.doc.query_params.is_array())
      for (const Json& p : op.doc.query_params) params.push_back(p);
    if (!params.empty()) o["parameters"] = params;
    if (!op.doc.request_content.is_null())
      o["requestBody"] = {{"required", true}, {"content", op.doc.request_content}};
    else if (!op.doc.request_schema.is_null())
      o["requestBody"] = {{"required", true}, {"content", {{"application/json", {{"schema", op.doc.request_schema}}}}}};
    Json responses = Json::object();
    Json ok = {{"description", StatusDescription(op.doc.success_status)}};
    if (!op.doc.response_schema.is_null())
      ok["content"] = {{op.doc.response_content_type, {{"schema", op.doc.response_schema}}}};
    responses[std::to_string(op.doc.success_status)] = ok;
    for (const auto& [status, schema] : op.doc.other_successes)
      responses[std::to_string(status)] = {{"description", StatusDescription(status)},
                                           {"content", {{"application/json", {{"schema", schema}}}}}};
    std::vector<int> errors = op.doc.errors;
    if (!op.doc.request_schema.is_null() || !op.doc.request_content.is_null()) {
      errors.push_back(400);
      errors.push_back(413);
      errors.push_back(415);
    }
    if (op.doc.paginated) errors.push_back(400);
    for (int e : errors)
      responses[std::to_string(e)] = {{"description", StatusDescription(e)},
                                      {"content", {{"application/json", {{"schema", Ref("Error")}}}}}};
    o["responses"] = responses;
    if (op.auth) o["security"] = {{{"bearer", Json::array()}}};
    paths[op.pattern][Lower(http::MethodName(op.method))] = o;
  }
  return {{"openapi", "3.1.0"},
          {"info",
           {{"title", "Better Dev API"},
            {"version", "0.1.0"},
            {"description", "Chat with your own documents: upload, ingest, search and ask, with citations."}}},
          {"paths", paths},
          {"components",
           {{"schemas", Schemas()},
            {"securitySchemes",
             {{"bearer",
               {{"type", "http"},
                {"scheme", "bearer"},
                {"description", "An access token from POST /v1/auth/login or an API key from POST /v1/api-keys"}}}}}}}};
}

}  // namespace betterdev::api
