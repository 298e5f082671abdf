#include "ingest/metrics.hpp"

#include "ingest/supervisor.hpp"

namespace betterdev::ingest {

void RegisterIngestMetrics(MetricsRegistry& m, queue::JobQueue& queue, const Supervisor* supervisor) {
  m.DeclareGauge("betterdev_queue_jobs", "Jobs in the queue by state.");
  m.DeclareCounter("betterdev_upload_bytes_total", "Bytes of files received by POST /v1/documents.");
  m.DeclareCounter("betterdev_ingest_attempts_total", "Processing attempts that ended, by result.");
  m.DeclareCounter("betterdev_ingest_documents_total", "Documents that finished processing, by final status.");
  m.DeclareHistogram("betterdev_ingest_stage_seconds", "Time spent per processing stage.",
                     {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600});
  m.DeclareCounter("betterdev_ingest_pages_total", "Pages of documents that became ready.");
  m.DeclareCounter("betterdev_ingest_bytes_total", "Bytes of documents that became ready.");
  m.DeclareGauge("betterdev_workers", "Worker processes running.");
  m.DeclareGauge("betterdev_worker_restarts", "Worker processes restarted after they died, since start.");
  m.AddCollector([&queue, supervisor](MetricsRegistry& r) {
    if (auto c = queue.Counts(); c.ok()) {
      r.Set("betterdev_queue_jobs", PromLabels({{"state", "waiting"}}), static_cast<double>(c->waiting));
      r.Set("betterdev_queue_jobs", PromLabels({{"state", "delayed"}}), static_cast<double>(c->delayed));
      r.Set("betterdev_queue_jobs", PromLabels({{"state", "active"}}), static_cast<double>(c->active));
      r.Set("betterdev_queue_jobs", PromLabels({{"state", "completed"}}), static_cast<double>(c->completed));
      r.Set("betterdev_queue_jobs", PromLabels({{"state", "failed"}}), static_cast<double>(c->failed));
    }
    if (supervisor) {
      r.Set("betterdev_workers", "", supervisor->running());
      r.Set("betterdev_worker_restarts", "", static_cast<double>(supervisor->restarts()));
    }
  });
}

void ObserveEvent(MetricsRegistry& m, const IngestEvent& e) {
  switch (e.type) {
    case IngestEvent::Type::kProgress:
      return;
    case IngestEvent::Type::kReady:
      m.Add("betterdev_ingest_attempts_total", PromLabels({{"result", "ready"}}));
      m.Add("betterdev_ingest_documents_total", PromLabels({{"status", "ready"}}));
      m.Observe("betterdev_ingest_stage_seconds", PromLabels({{"stage", "extracting"}}), e.extract_seconds);
      m.Observe("betterdev_ingest_stage_seconds", PromLabels({{"stage", "chunking"}}), e.chunk_seconds);
      m.Observe("betterdev_ingest_stage_seconds", PromLabels({{"stage", "embedding"}}), e.embed_seconds);
      m.Observe("betterdev_ingest_stage_seconds", PromLabels({{"stage", "indexing"}}), e.index_seconds);
      m.Add("betterdev_ingest_pages_total", "", e.pages);
      m.Add("betterdev_ingest_bytes_total", "", static_cast<double>(e.bytes));
      return;
    case IngestEvent::Type::kRetrying:
      m.Add("betterdev_ingest_attempts_total", PromLabels({{"result", "retrying"}}));
      return;
    case IngestEvent::Type::kFailed:
      m.Add("betterdev_ingest_attempts_total", PromLabels({{"result", "failed"}}));
      m.Add("betterdev_ingest_documents_total", PromLabels({{"status", "failed"}}));
      return;
  }
}

}  // namespace betterdev::ingest
