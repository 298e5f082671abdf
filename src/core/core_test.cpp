#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>
#include <set>
#include <thread>

#include "core/json_text.hpp"
#include "core/json_writer.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/periodic.hpp"
#include "core/random.hpp"
#include "core/status.hpp"
#include "core/time.hpp"
#include "core/timer_queue.hpp"
#include "testutil/testutil.hpp"

namespace betterdev {
namespace {

using testutil::FakeClock;

TEST(Status, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = Status::NotFound("no such thing");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "not_found: no such thing");
  EXPECT_EQ(Status::ResourceExhausted("slow down", 7).retry_after_seconds(), 7);
}

Status FailsThenReturns(bool fail) {
  BD_RETURN_IF_ERROR(fail ? Status::Conflict("x") : Status::Ok());
  return Status::Internal("reached");
}

TEST(Status, ReturnIfError) {
  EXPECT_EQ(FailsThenReturns(true).code(), StatusCode::kConflict);
  EXPECT_EQ(FailsThenReturns(false).code(), StatusCode::kInternal);
}

TEST(Result, HoldsValueOrStatus) {
  Result<int> good = 42;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 42);
  EXPECT_TRUE(good.status().ok());
  Result<int> bad = Status::InvalidArgument("nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "nope");
}

TEST(Time, FormatsRfc3339Utc) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatRfc3339(1795551241123), "2026-11-24T20:14:01.123Z");
  EXPECT_EQ(FormatRfc3339(951782400000), "2000-02-29T00:00:00.000Z");  // leap day
  EXPECT_EQ(FormatRfc3339(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Time, ParsesWhatItFormats) {
  for (int64_t ms : {int64_t{0}, int64_t{1795551241123}, int64_t{951782400000}, int64_t{4102444799999}})
    EXPECT_EQ(ParseRfc3339(FormatRfc3339(ms)), ms);
  EXPECT_EQ(ParseRfc3339("2026-11-24T21:14:01+01:00"), 1795551241000);
  EXPECT_FALSE(ParseRfc3339("2026-02-30T00:00:00Z"));
  EXPECT_FALSE(ParseRfc3339("yesterday"));
  EXPECT_FALSE(ParseRfc3339("2026-11-24T20:14:01"));  // no zone
}

TEST(Encoding, Base64UrlRoundTrips) {
  for (std::string s : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\0\xff\xfe", 3)}) {
    std::string enc = Base64UrlEncode(s);
    EXPECT_EQ(enc.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(Base64UrlDecode(enc), s);
  }
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(Base64UrlDecode("a+b"));
  EXPECT_FALSE(Base64UrlDecode("a"));
  EXPECT_EQ(HexEncode("\x01\xab"), "01ab");
}

TEST(Encoding, StandardBase64WithPadding) {
  EXPECT_EQ(Base64Encode(std::string("\x01\x02\x03\x04", 4)), "AQIDBA==");
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Decode("AQIDBA=="), std::string("\x01\x02\x03\x04", 4));
  EXPECT_EQ(Base64Decode("+/8="), std::string("\xfb\xff", 2));
  EXPECT_FALSE(Base64Decode("AQIDBA"));    // padding missing
  EXPECT_FALSE(Base64Decode("AQ-DBA=="));  // not the standard alphabet
  EXPECT_FALSE(Base64Decode("AQIDBA==x"));
}

TEST(Ids, SortInCreationOrderWithinOneMillisecond) {
  FakeClock clock(1795551241123);
  IdGenerator ids(clock);
  std::string prev = ids.New("conv");
  EXPECT_EQ(prev.size(), 5u + 26u);
  EXPECT_EQ(prev.substr(0, 5), "conv_");
  for (int i = 0; i < 1000; ++i) {
    std::string next = ids.New("conv");
    EXPECT_LT(prev, next);
    prev = next;
  }
  clock.Set(1795551241124);
  std::string later = ids.New("conv");
  EXPECT_LT(prev, later);
  clock.Set(1795551240000);  // clock steps back: still monotonic
  EXPECT_LT(later, ids.New("conv"));
}

TEST(Ids, UniqueAcrossThreads) {
  SystemClock clock;
  IdGenerator ids(clock);
  std::vector<std::vector<std::string>> out(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) out[t].push_back(ids.New("x"));
    });
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (auto& v : out) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 8000u);
}

TEST(JsonText, EscapesAndRepairsUtf8) {
  std::string out;
  AppendJsonString(out, "a\"b\\c\n\x01 é");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001 é\"");
  out.clear();
  AppendJsonString(out, "bad \xff\xc3 end");
  EXPECT_EQ(out, "\"bad \xEF\xBF\xBD\xEF\xBF\xBD end\"");
  EXPECT_EQ(ErrorJson("not_found", "no \"x\""), R"({"error":{"code":"not_found","message":"no \"x\""}})");
}

TEST(Metrics, RendersPrometheusText) {
  MetricsRegistry m;
  m.DeclareCounter("req_total", "Requests.");
  m.DeclareHistogram("lat_seconds", "Latency.", {0.1, 1});
  m.DeclareGauge("temp", "Temperature.");
  std::string labels = PromLabels({{"route", "/v1/x/{id}"}, {"q", "a\"b"}});
  m.Add("req_total", labels);
  m.Add("req_total", labels, 2);
  m.Observe("lat_seconds", "", 0.05);
  m.Observe("lat_seconds", "", 0.5);
  m.Observe("lat_seconds", "", 5);
  m.AddCollector([](MetricsRegistry& r) { r.Set("temp", "", 21.5); });
  std::string text = m.Render();
  EXPECT_NE(text.find("# TYPE req_total counter"), std::string::npos);
  EXPECT_NE(text.find("req_total{route=\"/v1/x/{id}\",q=\"a\\\"b\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count 3\n"), std::string::npos);
  EXPECT_NE(text.find("temp 21.5\n"), std::string::npos);
  EXPECT_THROW(m.Add("undeclared", ""), std::logic_error);
}

TEST(JsonWriter, WritesNestedValuesWithCommasInPlace) {
  JsonWriter w;
  w.BeginObject().Key("id").String("a\"b").Key("n").Int(-5).Key("ok").Bool(true).Key("none").Null();
  w.Key("list").BeginArray().Int(1).BeginObject().EndObject().BeginArray().EndArray().String("x").EndArray();
  w.Key("at").Timestamp(1795551241123).Key("raw").Raw("[1,2]").EndObject();
  EXPECT_EQ(w.Take(),
            R"({"id":"a\"b","n":-5,"ok":true,"none":null,"list":[1,{},[],"x"],"at":"2026-11-24T20:14:01.123Z","raw":[1,2]})");
}

TEST(Logger, BufferedLinesAreWrittenByFlushAndOnDestruction) {
  char* data = nullptr;
  size_t size = 0;
  std::FILE* mem = open_memstream(&data, &size);
  {
    Logger log(mem, LogLevel::kInfo, /*flush_interval_ms=*/60000);
    log.Info("first", {{"n", 1}, {"s", "x\"y"}});
    log.Debug("hidden");
    std::fflush(mem);
    EXPECT_EQ(size, 0u);  // buffered
    log.Flush();
    std::fflush(mem);
    EXPECT_NE(std::string(data, size).find(R"("msg":"first","n":1,"s":"x\"y"})"), std::string::npos);
    log.Error("urgent");  // errors are written at once
    std::fflush(mem);
    EXPECT_NE(std::string(data, size).find("urgent"), std::string::npos);
    log.Info("last");
  }
  std::fflush(mem);
  std::string text(data, size);
  EXPECT_NE(text.find("\"last\""), std::string::npos);
  EXPECT_EQ(text.find("hidden"), std::string::npos);
  std::fclose(mem);
  free(data);
}


TEST(TimerQueue, FiresInDeadlineOrderAndCancelledTimersNever) {
  TimerQueue timers;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> fired;
  auto note = [&](int n) {
    std::lock_guard lock(mu);
    fired.push_back(n);
    cv.notify_all();
  };
  timers.After(std::chrono::milliseconds(60), [&] { note(3); });
  timers.After(std::chrono::milliseconds(20), [&] { note(1); });
  const TimerQueue::Id dropped = timers.After(std::chrono::milliseconds(30), [&] { note(99); });
  timers.After(std::chrono::milliseconds(40), [&] { note(2); });
  timers.Cancel(dropped);
  timers.Cancel(12345);  // never was: nothing happens
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return fired.size() == 3; }));
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(TimerQueue, PendingTimersAreDroppedWithTheQueue) {
  auto owned = std::make_shared<int>(7);
  {
    TimerQueue timers;
    timers.After(std::chrono::hours(1), [owned] {});
    EXPECT_EQ(timers.pending(), 1u);
  }
  EXPECT_EQ(owned.use_count(), 1);  // the callback (and what it held) is gone
}

TEST(Periodic, RunsAgainAndAgainUntilDestroyedWithoutWaitingOutAnInterval) {
  std::mutex mu;
  std::condition_variable cv;
  int runs = 0;
  {
    Periodic every(std::chrono::milliseconds(5), [&] {
      std::lock_guard lock(mu);
      ++runs;
      cv.notify_all();
    });
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return runs >= 3; }));
  }
  const int seen = runs;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(runs, seen);  // nothing runs after destruction
  // An hour's interval: destruction wakes the thread (the test would hang otherwise).
  bool ran = false;
  { Periodic hourly(std::chrono::hours(1), [&] { ran = true; }); }
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace betterdev
