#include "api/upload.hpp"

#include "api/routes.hpp"
#include "extract/detect.hpp"
#include "extract/extractor.hpp"
#include "http/multipart.hpp"

namespace betterdev::api {
namespace {

constexpr size_t kMaxFilesPerUpload = 100;
constexpr size_t kMaxFieldBytes = 64 * 1024;  // all non-file form fields together

struct StagedFile {
  std::string filename;
  std::unique_ptr<blob::BlobWriter> writer;
};

class UploadReader final : public http::BodyReader, public http::PartHandler {
 public:
  UploadReader(Services& s, const http::Request& req, std::string user_id, bool reprocess,
               std::optional<std::string> boundary, std::string raw_filename)
      : s_(s), user_id_(std::move(user_id)), reprocess_(reprocess), limit_(s.ingest_config.max_upload_bytes) {
    log_req_.request_id = req.request_id;
    log_req_.path = req.path;
    files_.reserve(kMaxFilesPerUpload);  // current_ points into files_
    if (boundary) {
      parser_ = std::make_unique<http::MultipartParser>(*boundary, *this);
    } else {
      current_ = Open(std::move(raw_filename));
    }
  }

  std::optional<http::Response> Write(std::string_view piece) override {
    if (!error_.ok()) return Error(error_);
    Status st = parser_ ? parser_->Feed(piece) : Append(piece);
    if (!st.ok()) return Error(st);
    return std::nullopt;
  }

  http::Response Finish() override {
    if (!error_.ok()) return Error(error_);
    if (parser_) {
      if (Status st = parser_->Finish(); !st.ok()) return Error(st);
    }
    if (files_.empty())
      return ErrorResponse(HttpError{400, "invalid_request", "no file in the upload: send multipart/form-data with a "
                                                             "file field, or the raw bytes with X-Filename"});
    std::vector<std::string> types;
    for (StagedFile& f : files_) {
      if (Status st = f.writer->Finish(); !st.ok()) return ErrorResponse(st, log_req_, s_.log);
      if (f.writer->size() == 0)
        return ErrorResponse(HttpError{400, "invalid_request", "\"" + f.filename + "\" is empty"});
      auto type = extract::DetectFileType(f.writer->staged_path(), f.filename);
      if (!type.ok()) return ErrorResponse(type.status(), log_req_, s_.log);
      if (!extract::IsSupportedType(type->mime_type))
        return ErrorResponse(HttpError{415, "unsupported_media_type",
                                       "\"" + f.filename + "\" is " + type->mime_type +
                                           "; supported are " + std::string(extract::SupportedTypesDescription())});
      if (const int64_t most = extract::MaxFileBytes(type->mime_type);
          most > 0 && static_cast<int64_t>(f.writer->size()) > most) {
        return ErrorResponse(HttpError{413, "payload_too_large",
                                       "\"" + f.filename + "\" is " + type->mime_type + " of " +
                                           std::to_string(f.writer->size()) + " bytes; text files are read whole, up to " +
                                           std::to_string(most >> 20) + " MiB (" + std::to_string(most) + " bytes)"});
      }
      types.push_back(type->mime_type);
    }
    std::vector<ingest::AcceptedUpload> accepted;
    bool queued = false;
    for (size_t i = 0; i < files_.size(); ++i) {
      auto a = s_.ingest.Accept(user_id_, *files_[i].writer, files_[i].filename, types[i], reprocess_);
      if (!a.ok()) return ErrorResponse(a.status(), log_req_, s_.log);
      queued = queued || a->created || reprocess_;
      s_.metrics.Add("betterdev_upload_bytes_total", "", static_cast<double>(files_[i].writer->size()));
      accepted.push_back(std::move(*a));
    }
    int status = queued ? 202 : 200;
    JsonWriter w;
    if (accepted.size() == 1) {
      WriteAccepted(w, accepted[0]);
      return http::Response::Json(status, w.Take()).WithHeader("Location", "/v1/documents/" + accepted[0].document.id);
    }
    w.BeginObject().Key("data").BeginArray();
    for (const auto& a : accepted) WriteAccepted(w, a);
    w.EndArray().EndObject();
    return http::Response::Json(status, w.Take());
  }

  const Status& status() const { return error_; }

  Status OnPartBegin(const http::PartHeader& h) override {
    current_ = nullptr;
    if (!h.filename) return Status::Ok();  // a plain form field: read and ignored
    if (files_.size() >= kMaxFilesPerUpload)
      return Status::InvalidArgument("at most " + std::to_string(kMaxFilesPerUpload) + " files per upload");
    current_ = Open(*h.filename);
    return error_;
  }
  Status OnPartData(std::string_view bytes) override {
    if (current_) return Append(bytes);
    field_bytes_ += bytes.size();
    if (field_bytes_ > kMaxFieldBytes) return Status::InvalidArgument("form fields other than files are too large");
    return Status::Ok();
  }
  Status OnPartEnd() override {
    current_ = nullptr;
    return Status::Ok();
  }

 private:
  static void WriteAccepted(JsonWriter& w, const ingest::AcceptedUpload& a) {
    const store::Document& d = a.document;
    w.BeginObject().Key("document_id").String(d.id).Key("job_id").String(d.job_id);
    w.Key("status").String(store::DocumentStatusName(d.status)).Key("filename").String(d.filename);
    w.Key("content_type").String(d.content_type).Key("size_bytes").Int(static_cast<int64_t>(d.size_bytes));
    w.Key("sha256").String(d.sha256).Key("deduplicated").Bool(!a.created).EndObject();
  }

  StagedFile* Open(std::string filename) {
    auto writer = s_.ingest.blobs().Create();
    if (!writer.ok()) {
      error_ = writer.status();
      return nullptr;
    }
    files_.push_back({ingest::CleanFilename(filename), std::move(*writer)});
    return &files_.back();
  }

  Status Append(std::string_view bytes) {
    if (!current_) return error_.ok() ? Status::Internal("no file open") : error_;
    received_ += bytes.size();
    if (received_ > limit_)
      return Status::ResourceExhausted("\"" + current_->filename + "\" makes the upload larger than the limit of " +
                                       std::to_string(limit_) + " bytes");
    return current_->writer->Write(bytes);
  }

  http::Response Error(const Status& st) {
    if (st.code() == StatusCode::kResourceExhausted)
      return ErrorResponse(HttpError{413, "payload_too_large", st.message()});
    if (st.code() == StatusCode::kInvalidArgument)
      return ErrorResponse(HttpError{400, "invalid_request", st.message()});
    return ErrorResponse(st, log_req_, s_.log);
  }

  Services& s_;
  std::string user_id_;
  bool reprocess_;
  uint64_t limit_;
  std::unique_ptr<http::MultipartParser> parser_;
  std::vector<StagedFile> files_;  // reserve keeps current_ valid: see StartUpload
  StagedFile* current_ = nullptr;
  uint64_t received_ = 0;
  size_t field_bytes_ = 0;
  Status error_;
  http::Request log_req_;  // the request's id and path, for error logs
};

}  // namespace

http::StreamStart StartUpload(Services& s, const http::Request& req, const std::string& user_id) {
  bool reprocess = false;
  if (auto r = req.QueryParam("reprocess")) {
    if (*r == "true" || *r == "1") reprocess = true;
    else if (*r != "false" && *r != "0")
      return ErrorResponse(HttpError{400, "invalid_request", "reprocess must be true or false"});
  }
  const std::string* ct = req.FindHeader("Content-Type");
  std::optional<std::string> boundary;
  std::string filename = "upload";
  if (ct && http::EqualsIgnoreCase(std::string_view(*ct).substr(0, std::min<size_t>(ct->size(), 10)), "multipart/")) {
    boundary = http::MultipartBoundary(*ct);
    if (!boundary)
      return ErrorResponse(HttpError{400, "invalid_request", "multipart uploads must be multipart/form-data with a boundary"});
  } else if (const std::string* name = req.FindHeader("X-Filename")) {
    filename = http::PercentDecode(*name, false).value_or(*name);
  }
  auto reader = std::make_unique<UploadReader>(s, req, user_id, reprocess, boundary, filename);
  if (Status st = reader->status(); !st.ok()) return ErrorResponse(st, req, s.log);
  return std::unique_ptr<http::BodyReader>(std::move(reader));
}

}  // namespace betterdev::api
