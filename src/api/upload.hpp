// The body reader behind POST /v1/documents: streams each uploaded file into the blob store
// (hashing on the way, size limit enforced while streaming), then detects types, creates the
// documents and their jobs. Never parses a file beyond its first bytes' type.
#pragma once

#include <memory>
#include <string>

#include "api/api.hpp"
#include "http/router.hpp"

namespace betterdev::api {

// The reader for one upload request, or the error to answer at once (bad Content-Type,
// bad query). Raw bodies take their name from X-Filename (percent-encoding allowed).
http::StreamStart StartUpload(Services& s, const http::Request& req, const std::string& user_id);

}  // namespace betterdev::api
