#include "queue/redis/redis_queue.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "core/random.hpp"
#include "queue/redis/bullmq_scripts.hpp"

namespace betterdev::queue {
namespace {

using Json = nlohmann::json;
using redis::RedisClient;
using redis::RedisPool;
using redis::RedisReply;

constexpr int kMaxPriority = 1 << 21;  // BullMQ's limit
constexpr int kMaxDeferredFailuresPerLease = 16;

std::string Pack(const Json& value) {
  const std::vector<uint8_t> bytes = Json::to_msgpack(value);
  return std::string(bytes.begin(), bytes.end());
}

int64_t ToInt(const std::string& s, int64_t otherwise = 0) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc() && end == s.data() + s.size() ? v : otherwise;
}

// HGETALL's flat [field, value, ...] as a map.
std::map<std::string, std::string> Fields(const RedisReply& reply) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) out[reply.elements[i].text] = reply.elements[i + 1].text;
  return out;
}

std::string Field(const std::map<std::string, std::string>& f, const std::string& name) {
  auto it = f.find(name);
  return it == f.end() ? std::string() : it->second;
}

Json ParseOpts(const std::string& text) {
  Json opts = Json::parse(text, nullptr, false);
  return opts.is_object() ? opts : Json::object();
}

int MaxAttempts(const Json& opts) {
  auto it = opts.find("attempts");
  return it != opts.end() && it->is_number_integer() ? std::max(1, it->get<int>()) : 1;
}

// BullMQ's removeOnComplete / removeOnFail as moveToFinished's keepJobs.
Json KeepJobs(const Json& opts, const char* option, const Json& otherwise) {
  auto it = opts.find(option);
  if (it == opts.end() || it->is_null()) return otherwise;
  if (it->is_boolean()) return Json{{"count", it->get<bool>() ? 0 : -1}};
  if (it->is_number()) return Json{{"count", it->get<int64_t>()}};
  if (it->is_object()) return *it;
  return otherwise;
}

// The delay before the next try under the job's own backoff option (BullMQ's built-in
// strategies: a number is fixed; {type: fixed|exponential, delay, jitter}).
int64_t BackoffDelay(const Json& opts, int failures) {
  auto it = opts.find("backoff");
  if (it == opts.end()) return 0;
  std::string type = "fixed";
  int64_t delay = 0;
  double jitter = 0;
  if (it->is_number()) {
    delay = it->get<int64_t>();
  } else if (it->is_object()) {
    type = it->value("type", "fixed");
    delay = it->value("delay", int64_t{0});
    jitter = it->value("jitter", 0.0);
  }
  int64_t full = type == "exponential" ? RetryDelayMs(delay, failures) : delay;
  if (jitter > 0 && full > 0) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    const double min = static_cast<double>(full) * (1 - std::min(jitter, 1.0));
    full = static_cast<int64_t>(min + std::uniform_real_distribution<double>(0, static_cast<double>(full) - min)(rng));
  }
  return std::max<int64_t>(0, full);
}

std::string NewToken() {
  char bytes[16];
  SecureRandomBytes(bytes, sizeof bytes);
  return HexEncode(std::string_view(bytes, sizeof bytes));
}

Status LeaseLost(const Job& job) { return Status::NotFound("job " + job.id + " is no longer leased by this worker"); }

// The negative answers of BullMQ's scripts that mean the job is not (or no longer) ours.
Status ScriptCode(const Job& job, int64_t code) {
  if (code == -1) return Status::NotFound("job " + job.id + " no longer exists");
  return LeaseLost(job);  // -2 lock missing, -3 not active, -6 lock held by another
}

Status Unexpected(std::string_view what, const RedisReply& reply) {
  if (reply.type == RedisReply::Type::kError) return Status::Internal(std::string(what) + ": Redis error: " + reply.text);
  return Status::Internal(std::string(what) + ": unexpected reply from Redis");
}

class RedisQueue final : public JobQueue {
 public:
  RedisQueue(const RedisQueueOptions& o, BullmqScripts scripts, const Clock& clock)
      : o_(o),
        clock_(clock),
        scripts_(std::move(scripts)),
        base_(o.prefix + ":" + o.queue_name + ":"),
        pool_(o.url, o.timeout) {
    Json keep = Json::object();
    keep["count"] = o.keep_completed.max_count.value_or(-1);
    if (o.keep_completed.max_age_ms) keep["age"] = *o.keep_completed.max_age_ms / 1000;
    keep_completed_ = keep;
  }

  // A lane's fetched next job goes back to waiting (a stopping worker never leases it).
  ~RedisQueue() override {
    std::map<std::string, Leased, std::less<>> left;
    {
      std::lock_guard lock(mu_);
      left.swap(prefetched_);
    }
    for (auto& [worker, leased] : left) (void)ReleaseJob(leased.job);
  }

  Status Check() {
    for (const char* name : {"addStandardJob", "addDelayedJob", "addPrioritizedJob", "moveToActive", "extendLock",
                             "updateProgress", "moveToFinished", "moveToDelayed", "retryJob", "moveJobFromActiveToWait",
                             "moveStalledJobsToWait", "removeJob", "getStateV2", "getCounts", "cleanJobsInSet"}) {
      auto script = scripts_.Get(name);
      if (!script.ok()) return script.status();
      scripts_by_name_[name] = *script;
    }
    auto pong = pool_.Command({"PING"});
    if (!pong.ok()) return pong.status();
    return Status::Ok();
  }

  Result<std::string> Enqueue(std::string_view name, std::string_view payload, const JobOptions& o) override {
    if (name.empty()) return Status::InvalidArgument("job name is empty");
    if (o.attempts < 1) return Status::InvalidArgument("attempts must be at least 1");
    if (o.backoff_ms < 0 || o.delay_ms < 0) return Status::InvalidArgument("backoff and delay must not be negative");
    if (o.priority < 0 || o.priority > kMaxPriority)
      return Status::InvalidArgument("a BullMQ priority is 0 (none) or 1 to " + std::to_string(kMaxPriority));
    if (!Json::accept(payload)) return Status::InvalidArgument("job data must be JSON (BullMQ's data field)");
    // BullMQ's rules for custom ids: an integer would collide with its counter's ids, and ':'
    // separates the parts of its keys.
    if (!o.id.empty() && (o.id.find(':') != std::string::npos ||
                          o.id.find_first_not_of("0123456789") == std::string::npos))
      return Status::InvalidArgument("a BullMQ job id is not an integer and holds no ':': " + o.id);
    Json opts{{"attempts", o.attempts}};
    if (o.backoff_ms > 0) opts["backoff"] = Json{{"type", "exponential"}, {"delay", o.backoff_ms}};
    if (o.delay_ms > 0) opts["delay"] = o.delay_ms;
    if (o.priority > 0) opts["priority"] = o.priority;
    if (!o.id.empty()) {
      opts["jobId"] = o.id;
      auto exists = pool_.Command({"EXISTS", base_ + o.id});
      if (!exists.ok()) return exists.status();
      if (exists->integer == 1) return Status::Conflict("job " + o.id + " exists");
    }
    const int64_t now = clock_.NowMillis();
    // [prefix, custom id, name, timestamp, parentKey, parent dependencies key, parent, repeat
    // job key, deduplication key, defer parent release]
    const Json args = Json::array({base_, o.id, std::string(name), now, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr});
    std::vector<std::string> keys;
    const BullmqScript* script;
    if (o.delay_ms > 0) {
      script = &S("addDelayedJob");
      keys = {Key("marker"), Key("meta"), Key("id"), Key("delayed"), Key("completed"), Key("events")};
    } else if (o.priority > 0) {
      script = &S("addPrioritizedJob");
      keys = {Key("marker"), Key("meta"), Key("id"), Key("prioritized"), Key("delayed"), Key("completed"), Key("active"),
              Key("events"), Key("pc")};
    } else {
      script = &S("addStandardJob");
      keys = {Key("wait"), Key("paused"), Key("meta"), Key("id"), Key("completed"), Key("delayed"), Key("active"),
              Key("events"), Key("marker")};
    }
    auto reply = pool_.Run(*script, keys, {Pack(args), std::string(payload), Pack(opts)});
    if (!reply.ok()) return reply.status();
    if (reply->type == RedisReply::Type::kString) return reply->text;
    return Unexpected("add job", *reply);
  }

  Result<std::optional<Job>> Lease(std::string_view worker_id, int64_t lease_ms, LeaseFilter filter) override {
    if (lease_ms <= 0) return Status::InvalidArgument("lease_ms must be positive");
    if (filter == LeaseFilter::kIdleGroups) return std::optional<Job>();  // no groups on BullMQ
    for (int i = 0; i < kMaxDeferredFailuresPerLease; ++i) {
      // The job the lane's last completion fetched in the same call (BullMQ's fetchNext), else
      // one taken now.
      std::optional<Leased> leased = TakePrefetched(worker_id);
      if (!leased) {
        const std::string token = NewToken();
        const int64_t now = clock_.NowMillis();
        const Json opts{{"token", token}, {"lockDuration", lease_ms}, {"name", std::string(worker_id)}};
        auto reply = pool_.Run(S("moveToActive"),
                               {Key("wait"), Key("active"), Key("prioritized"), Key("events"), Key("stalled"), Key("limiter"),
                                Key("delayed"), Key("paused"), Key("meta"), Key("pc"), Key("marker")},
                               {base_, std::to_string(now), Pack(opts)});
        if (!reply.ok()) return reply.status();
        if (reply->type != RedisReply::Type::kArray || reply->elements.size() < 2) return Unexpected("moveToActive", *reply);
        leased = Parse(*reply, token, std::string(worker_id), lease_ms, now);
        if (!leased) return std::optional<Job>();
      }
      if (std::string reason = Field(leased->fields, "defa"); !reason.empty()) {
        // It stalled more often than allowed: it fails now, and ReclaimExpired reports it.
        leased->active.worker_id.clear();  // fetch nothing with this one
        if (Status s = Finish(leased->job, leased->active, "failed", "failedReason", reason); s.ok()) {
          JobInfo info = InfoOf(leased->job.id, leased->fields, JobState::kFailed);
          info.failed_reason = reason;
          std::lock_guard lock(mu_);
          deferred_failures_.push_back(std::move(info));
        }
        continue;
      }
      std::lock_guard lock(mu_);
      active_[ActiveKey(leased->job)] = std::move(leased->active);
      return std::optional<Job>(std::move(leased->job));
    }
    return std::optional<Job>();
  }

  Status Extend(const Job& job, int64_t lease_ms) override {
    auto reply = pool_.Run(S("extendLock"), {Key(job.id + ":lock"), Key("stalled")},
                           {job.lease_token, std::to_string(lease_ms), job.id});
    if (!reply.ok()) return reply.status();
    if (reply->type != RedisReply::Type::kInteger) return Unexpected("extendLock", *reply);
    if (reply->integer == 1) return Status::Ok();
    (void)TakeActive(job);  // its holder abandons it without another call
    return LeaseLost(job);
  }

  Status Progress(const Job& job, int percent) override {
    if (percent < 0 || percent > 100) return Status::InvalidArgument("progress must be 0..100");
    auto lock = pool_.Command({"GET", Key(job.id + ":lock")});
    if (!lock.ok()) return lock.status();
    if (lock->text != job.lease_token) return LeaseLost(job);
    // Always JSON: a progress QueueEvents cannot parse stops its listeners.
    auto reply = pool_.Run(S("updateProgress"), {Key(job.id), Key("events"), Key("meta")},
                           {job.id, std::to_string(percent)});
    if (!reply.ok()) return reply.status();
    if (reply->type != RedisReply::Type::kInteger) return Unexpected("updateProgress", *reply);
    return reply->integer < 0 ? ScriptCode(job, reply->integer) : Status::Ok();
  }

  Status Complete(const Job& job, std::string_view result_json) override {
    ActiveJob active = TakeActive(job);
    // Always JSON: a return value QueueEvents cannot parse stops its listeners.
    const std::string value = Json::accept(result_json) ? std::string(result_json) : Json(std::string(result_json)).dump();
    return Finish(job, active, "completed", "returnvalue", value);
  }

  Result<FailOutcome> Fail(const Job& job, std::string_view reason, bool retryable) override {
    ActiveJob active = TakeActive(job);
    FailOutcome out;
    const int failures = active.failures + 1;
    if (retryable && failures < MaxAttempts(active.opts)) {
      const int64_t now = clock_.NowMillis();
      const int64_t delay = BackoffDelay(active.opts, failures);
      const std::string fields = Pack(Json::array({"failedReason", std::string(reason)}));
      auto reply = delay > 0 ? pool_.Run(S("moveToDelayed"),
                          {Key("marker"), Key("active"), Key("prioritized"), Key("delayed"), Key(job.id), Key("events"),
                           Key("meta"), Key("stalled"), Key("wait"), Key("limiter"), Key("pc")},
                          {base_, std::to_string(now), job.id, job.lease_token, std::to_string(delay), "0", fields, "0"})
                             : pool_.Run(S("retryJob"),
                                         {Key("active"), Key("wait"), Key("paused"), Key(job.id), Key("meta"), Key("events"),
                                          Key("delayed"), Key("prioritized"), Key("pc"), Key("marker"), Key("stalled")},
                                         {base_, std::to_string(now), "LPUSH", job.id, job.lease_token, fields});
      if (!reply.ok()) return reply.status();
      if (reply->type == RedisReply::Type::kInteger && reply->integer < 0) return ScriptCode(job, reply->integer);
      if (reply->type == RedisReply::Type::kError) return Unexpected("retry", *reply);
      out.retried = true;
      out.retry_at = now + delay;
      return out;
    }
    BD_RETURN_IF_ERROR(Finish(job, active, "failed", "failedReason", std::string(reason)));
    return out;
  }

  Status Release(const Job& job) override {
    (void)TakeActive(job);
    return ReleaseJob(job);
  }

  Status ReleaseJob(const Job& job) {
    auto reply = pool_.Run(S("moveJobFromActiveToWait"),
                           {Key("active"), Key("wait"), Key("stalled"), Key("paused"), Key("meta"), Key("limiter"),
                            Key("prioritized"), Key("marker"), Key("events")},
                           {job.id, job.lease_token, Key(job.id)});
    if (!reply.ok()) return reply.status();
    if (reply->type != RedisReply::Type::kInteger) return Unexpected("moveJobFromActiveToWait", *reply);
    return reply->integer < 0 ? ScriptCode(job, reply->integer) : Status::Ok();
  }

  Result<std::vector<JobInfo>> ReclaimExpired() override {
    auto reply = pool_.Run(S("moveStalledJobsToWait"),
                           {Key("stalled"), Key("wait"), Key("active"), Key("stalled-check"), Key("meta"), Key("paused"),
                            Key("marker"), Key("events"), Key("repeat")},
                           {std::to_string(o_.max_stalled_count), base_, std::to_string(clock_.NowMillis()),
                            std::to_string(o_.stalled_interval_ms)});
    if (!reply.ok()) return reply.status();
    if (reply->type == RedisReply::Type::kError) return Unexpected("moveStalledJobsToWait", *reply);
    std::lock_guard lock(mu_);
    return std::exchange(deferred_failures_, {});
  }

  Status Cancel(std::string_view job_id) override {
    const std::string id(job_id);
    // BullMQ removes no locked job: the lock goes first, so its worker loses the lease. A worker
    // may lock it again in between (it was waiting): then once more.
    for (int tries = 0; tries < 5; ++tries) {
      auto dropped = pool_.Command({"DEL", Key(id + ":lock")});
      if (!dropped.ok()) return dropped.status();
      auto reply = pool_.Run(S("removeJob"), {Key(id), Key("repeat")}, {id, "0", base_});
      if (!reply.ok()) return reply.status();
      if (reply->type != RedisReply::Type::kInteger) return Unexpected("removeJob", *reply);
      if (reply->integer == 1) return Status::Ok();
      if (reply->integer < 0) return Status::Conflict("job " + id + " belongs to a job scheduler");
    }
    return Status::Unavailable("job " + id + " kept being taken by workers while it was removed");
  }

  Result<JobInfo> Get(std::string_view job_id) override {
    const std::string id(job_id);
    auto hash = pool_.Command({"HGETALL", Key(id)});
    if (!hash.ok()) return hash.status();
    if (hash->elements.empty()) return Status::NotFound("job " + id + " not found");
    auto state = pool_.Run(S("getStateV2"),
                           {Key("completed"), Key("failed"), Key("delayed"), Key("active"), Key("wait"), Key("paused"),
                            Key("waiting-children"), Key("prioritized")},
                           {id});
    if (!state.ok()) return state.status();
    if (state->type != RedisReply::Type::kString && state->type != RedisReply::Type::kStatus)
      return Unexpected("getStateV2", *state);
    const std::string& s = state->text;
    if (s == "unknown") return Status::NotFound("job " + id + " not found");
    const JobState js = s == "completed" ? JobState::kCompleted
                        : s == "failed"  ? JobState::kFailed
                        : s == "delayed" ? JobState::kDelayed
                        : s == "active"  ? JobState::kActive
                                         : JobState::kWaiting;
    return InfoOf(id, Fields(*hash), js);
  }

  Result<StateCounts> Counts() override {
    auto reply = pool_.Run(S("getCounts"), {base_},
                           {"wait", "paused", "prioritized", "waiting-children", "delayed", "active", "completed", "failed"});
    if (!reply.ok()) return reply.status();
    if (reply->type != RedisReply::Type::kArray || reply->elements.size() != 8) return Unexpected("getCounts", *reply);
    auto n = [&](size_t i) { return reply->elements[i].integer; };
    StateCounts c;
    c.waiting = n(0) + n(1) + n(2) + n(3);
    c.delayed = n(4);
    c.active = n(5);
    c.completed = n(6);
    c.failed = n(7);
    return c;
  }

  Result<int64_t> PruneCompleted(const Retention& keep) override {
    int64_t removed = 0;
    if (keep.max_age_ms) {
      auto reply = pool_.Run(S("cleanJobsInSet"), {Key("completed"), Key("events"), Key("repeat")},
                             {base_, std::to_string(clock_.NowMillis() - *keep.max_age_ms), "1000", "completed"});
      if (!reply.ok()) return reply.status();
      if (reply->type != RedisReply::Type::kArray) return Unexpected("cleanJobsInSet", *reply);
      removed += static_cast<int64_t>(reply->elements.size());
    }
    if (keep.max_count) {
      auto count = pool_.Command({"ZCARD", Key("completed")});
      if (!count.ok()) return count.status();
      const int64_t excess = std::min<int64_t>(count->integer - *keep.max_count, 1000);
      if (excess > 0) {
        auto oldest = pool_.Command({"ZRANGE", Key("completed"), "0", std::to_string(excess - 1)});
        if (!oldest.ok()) return oldest.status();
        for (const RedisReply& id : oldest->elements) {
          auto reply = pool_.Run(S("removeJob"), {Key(id.text), Key("repeat")}, {id.text, "0", base_});
          if (!reply.ok()) return reply.status();
          if (reply->type == RedisReply::Type::kError) return Unexpected("removeJob", *reply);
          if (reply->type == RedisReply::Type::kInteger && reply->integer == 1) ++removed;
        }
      }
    }
    return removed;
  }

  bool WaitForWork(std::string_view worker_id, int64_t timeout_ms) override {
    const int64_t deadline = clock_.NowMillis() + timeout_ms;
    RedisClient* client = Blocking(worker_id);
    if (client == nullptr) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(timeout_ms, 1000)));
      return true;
    }
    // The marker: member "0" (score 0) when a job is waiting, "1" scored with the time of the
    // next delayed job. A future score means: wait until then, or until a new marker.
    for (int64_t now = clock_.NowMillis(), until = deadline; now < until; now = clock_.NowMillis()) {
      const int64_t wait_ms = until - now;
      char seconds[32];
      std::snprintf(seconds, sizeof seconds, "%.3f", static_cast<double>(wait_ms) / 1000);
      client->SetTimeout(o_.timeout + std::chrono::milliseconds(wait_ms));
      auto reply = client->Command({"BZPOPMIN", Key("marker"), seconds});
      if (!reply.ok() || reply->type == RedisReply::Type::kError) {  // unreachable, or LOADING after a restart
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(wait_ms, 1000)));
        return true;
      }
      if (reply->type != RedisReply::Type::kArray || reply->elements.size() < 3) return true;  // timed out
      const int64_t due = ToInt(reply->elements[2].text, 0);
      if (due <= clock_.NowMillis()) return true;
      until = std::min(deadline, due);
    }
    return true;
  }

 private:
  struct ActiveJob {
    Json opts = Json::object();
    int failures = 0;       // BullMQ's atm when leased
    std::string worker_id;  // the lane holding it
    int64_t lease_ms = 0;
  };
  struct Leased {
    Job job;
    ActiveJob active;
    std::map<std::string, std::string> fields;  // the job's hash
  };

  std::string Key(const std::string& suffix) const { return base_ + suffix; }
  const BullmqScript& S(std::string_view name) const { return *scripts_by_name_.find(name)->second; }
  // active_'s key: a fetched next job carries the token of the job whose completion fetched it.
  static std::string ActiveKey(const Job& job) { return job.id + '\n' + job.lease_token; }

  ActiveJob TakeActive(const Job& job) {
    std::lock_guard lock(mu_);
    auto it = active_.find(ActiveKey(job));
    if (it == active_.end()) return {};
    ActiveJob out = std::move(it->second);
    active_.erase(it);
    return out;
  }

  // Moves the job to completed or failed; for a lane (active.worker_id set) the same call takes
  // the lane's next job under the same token, kept for its next Lease (one round trip per job,
  // as BullMQ's workers do).
  Status Finish(const Job& job, const ActiveJob& active, const char* target, const char* field, const std::string& value) {
    const bool completed = std::string_view(target) == "completed";
    const bool fetch_next = !active.worker_id.empty();
    Json opts{{"token", job.lease_token},
                    {"keepJobs", completed ? KeepJobs(active.opts, "removeOnComplete", keep_completed_)
                                           : KeepJobs(active.opts, "removeOnFail", Json{{"count", -1}})},
                    {"lockDuration", 30000},
                    {"attempts", MaxAttempts(active.opts)},
                    {"maxMetricsSize", ""},
                    {"fpof", false},
                    {"cpof", false},
                    {"idof", false},
                    {"rdof", false}};
    if (fetch_next) {
      opts["lockDuration"] = active.lease_ms;
      opts["name"] = active.worker_id;
    }
    const int64_t now = clock_.NowMillis();
    auto reply = pool_.Run(S("moveToFinished"),
                           {Key("wait"), Key("active"), Key("prioritized"), Key("events"), Key("stalled"), Key("limiter"),
                            Key("delayed"), Key("paused"), Key("meta"), Key("pc"), Key(target), Key(job.id),
                            Key(std::string("metrics:") + target), Key("marker")},
                           {job.id, std::to_string(now), field, value, target, fetch_next ? "1" : "0", base_, Pack(opts)});
    if (!reply.ok()) return reply.status();
    if (reply->type == RedisReply::Type::kInteger && reply->integer < 0) return ScriptCode(job, reply->integer);
    if (reply->type == RedisReply::Type::kError) return Unexpected("moveToFinished", *reply);
    if (fetch_next && reply->type == RedisReply::Type::kArray) {
      if (auto next = Parse(*reply, job.lease_token, active.worker_id, active.lease_ms, now)) {
        std::lock_guard lock(mu_);
        prefetched_[active.worker_id] = std::move(*next);
      }
    }
    return Status::Ok();
  }

  // moveToActive's answer (and moveToFinished's with fetchNext): [job hash, id, ...]; nullopt
  // when it holds no job.
  std::optional<Leased> Parse(const RedisReply& reply, const std::string& token, const std::string& worker_id,
                              int64_t lease_ms, int64_t now) const {
    if (reply.elements.size() < 2 || reply.elements[0].type != RedisReply::Type::kArray) return std::nullopt;
    Leased l;
    l.fields = Fields(reply.elements[0]);
    l.job.id = reply.elements[1].text;
    l.job.name = Field(l.fields, "name");
    l.job.payload = Field(l.fields, "data");
    l.job.attempts_made = static_cast<int>(ToInt(Field(l.fields, "ats"), 1));
    l.job.lease_token = token;
    l.job.lease_until = now + lease_ms;
    l.active = {ParseOpts(Field(l.fields, "opts")), static_cast<int>(ToInt(Field(l.fields, "atm"), 0)), worker_id, lease_ms};
    l.job.max_attempts = MaxAttempts(l.active.opts);
    return l;
  }

  std::optional<Leased> TakePrefetched(std::string_view worker_id) {
    std::lock_guard lock(mu_);
    auto it = prefetched_.find(worker_id);
    if (it == prefetched_.end()) return std::nullopt;
    Leased l = std::move(it->second);
    prefetched_.erase(it);
    return l;
  }

  JobInfo InfoOf(const std::string& id, const std::map<std::string, std::string>& f, JobState state) const {
    JobInfo info;
    info.id = id;
    info.name = Field(f, "name");
    info.payload = Field(f, "data");
    info.state = state;
    info.attempts_made = static_cast<int>(ToInt(Field(f, "ats"), 0));
    info.max_attempts = MaxAttempts(ParseOpts(Field(f, "opts")));
    const Json progress = Json::parse(Field(f, "progress"), nullptr, false);
    if (progress.is_number()) info.progress = std::clamp(progress.get<int>(), 0, 100);
    info.failed_reason = Field(f, "failedReason");
    info.created_at = ToInt(Field(f, "timestamp"));
    info.run_at = info.created_at + ToInt(Field(f, "delay"));
    if (std::string finished = Field(f, "finishedOn"); !finished.empty()) info.finished_at = ToInt(finished);
    return info;
  }

  // The lane's own connection for blocking waits, named as BullMQ names a worker's, so BullMQ's
  // getWorkers lists it. Null while Redis is unreachable.
  RedisClient* Blocking(std::string_view worker_id) {
    {
      std::lock_guard lock(mu_);
      auto it = blocking_.find(worker_id);
      if (it != blocking_.end()) return it->second.get();
    }
    auto client = RedisClient::Connect(o_.url, o_.timeout);  // not under mu_: it may take the timeout
    if (!client.ok()) return nullptr;
    (*client)->SetName(o_.prefix + ":" + Base64Encode(o_.queue_name) + ":w:" + std::string(worker_id));
    std::lock_guard lock(mu_);
    return blocking_.emplace(std::string(worker_id), std::move(*client)).first->second.get();  // one lane per id
  }

  const RedisQueueOptions o_;
  const Clock& clock_;
  const BullmqScripts scripts_;
  const std::string base_;  // "<prefix>:<queue>:"
  std::map<std::string, const BullmqScript*, std::less<>> scripts_by_name_;  // filled by Check, then read-only
  Json keep_completed_;
  RedisPool pool_;
  std::mutex mu_;
  std::map<std::string, ActiveJob> active_;         // by ActiveKey; guarded by mu_
  std::map<std::string, Leased, std::less<>> prefetched_;  // by worker id; guarded by mu_
  std::vector<JobInfo> deferred_failures_;          // guarded by mu_
  std::map<std::string, std::unique_ptr<RedisClient>, std::less<>> blocking_;  // by worker id; guarded by mu_
};

}  // namespace

Result<std::unique_ptr<JobQueue>> OpenRedisQueue(const RedisQueueOptions& options, const Clock& clock) {
  auto scripts = BullmqScripts::Load(options.bullmq_dir);
  if (!scripts.ok()) return scripts.status();
  auto queue = std::make_unique<RedisQueue>(options, std::move(*scripts), clock);
  BD_RETURN_IF_ERROR(queue->Check());
  return std::unique_ptr<JobQueue>(std::move(queue));
}

}  // namespace betterdev::queue
