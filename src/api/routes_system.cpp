// Liveness, readiness and metrics.
#include "api/routes.hpp"
#include "core/process_stats.hpp"

namespace betterdev::api {

void RegisterSystemRoutes(ApiRouter& r, Services& s) {
  r.Public(http::Method::kGet, "/healthz", {"Liveness: the process is serving", "system", {}, 200, Ref("Health")},
           [](http::Request&) { return http::Response::Json(200, R"({"status":"ok"})"); });

  // Anyone may ask: the answer names the dependency, the log has the detail.
  r.Public(http::Method::kGet, "/readyz",
           {"Readiness: every dependency answers", "system", {}, 200, Ref("Readiness"), "application/json", {503}},
           [&s](http::Request& req) {
             Status store = s.store.Ping();
             if (!store.ok()) {
               s.log.Warn("readiness check failed", {{"request_id", req.request_id}, {"error", store.message()}});
               return ErrorResponse(HttpError{503, "unavailable", "not ready: the store does not answer"});
             }
             Status queue = s.ingest.PingQueue();
             if (!queue.ok()) {
               s.log.Warn("readiness check failed", {{"request_id", req.request_id}, {"error", queue.message()}});
               return ErrorResponse(HttpError{503, "unavailable", "not ready: the job queue does not answer"});
             }
             Status blobs = s.ingest.PingBlobs();
             if (!blobs.ok()) {
               s.log.Warn("readiness check failed", {{"request_id", req.request_id}, {"error", blobs.message()}});
               return ErrorResponse(HttpError{503, "unavailable", "not ready: the file storage does not answer"});
             }
             return JsonResponse(200, {{"status", "ready"}, {"checks", {{"store", "ok"}, {"queue", "ok"}, {"blobs", "ok"}}}});
           },
           // Remote dependencies may take seconds to answer: never on an I/O thread.
           http::RouteOptions{1 << 20, true});

  RegisterProcessMetrics(s.metrics);
  r.Public(http::Method::kGet, "/metrics",
           {"Prometheus metrics", "system", {}, 200, {{"type", "string"}}, "text/plain; version=0.0.4"},
           [&s](http::Request&) {
             return http::Response::Text(200, "text/plain; version=0.0.4; charset=utf-8", s.metrics.Render());
           });
}

}  // namespace betterdev::api
