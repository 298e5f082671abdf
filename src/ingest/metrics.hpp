// Ingestion metrics: queue depth by state (read at scrape time), and what workers report in
// their events (jobs, attempts, failures, stage durations, pages and bytes).
#pragma once

#include "core/metrics.hpp"
#include "ingest/events.hpp"
#include "queue/queue.hpp"

namespace betterdev::ingest {

class Supervisor;

// Declares the families; `supervisor` may be null (API-only process).
void RegisterIngestMetrics(MetricsRegistry& metrics, queue::JobQueue& queue, const Supervisor* supervisor);
void ObserveEvent(MetricsRegistry& metrics, const IngestEvent& e);

}  // namespace betterdev::ingest
