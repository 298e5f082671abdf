// A small Prometheus metrics registry (text exposition format 0.0.4).
//
// Families are declared once with their type and help; series are created on first use by
// label set. Collectors run at scrape time to refresh gauges that are cheaper to read than to
// track (process memory, queue depth). Thread-safe.
#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace betterdev {

// Renders a label set as Prometheus text: k1="v1",k2="v2" (values escaped).
std::string PromLabels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels);

class MetricsRegistry {
 public:
  enum class Type { kCounter, kGauge, kHistogram };

  void DeclareCounter(const std::string& name, const std::string& help);
  void DeclareGauge(const std::string& name, const std::string& help);
  // `bounds` are the upper bounds of the buckets, ascending; +Inf is added.
  void DeclareHistogram(const std::string& name, const std::string& help, std::vector<double> bounds);

  // Using an undeclared family is a programming error and throws std::logic_error.
  void Add(std::string_view name, const std::string& labels, double delta = 1);
  void Set(std::string_view name, const std::string& labels, double value);
  void Observe(std::string_view name, const std::string& labels, double value);

  void AddCollector(std::function<void(MetricsRegistry&)> collector);

  std::string Render();

 private:
  struct Series {
    double value = 0;                 // counter, gauge
    std::vector<uint64_t> buckets;    // histogram: per-bucket (not cumulative) counts
    double sum = 0;
    uint64_t count = 0;
  };
  struct Family {
    Type type;
    std::string help;
    std::vector<double> bounds;
    std::map<std::string, Series, std::less<>> series;
  };
  Family& Get(std::string_view name, Type expected);  // requires mu_

  std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;  // guarded by mu_
  std::vector<std::function<void(MetricsRegistry&)>> collectors_;  // guarded by mu_
};

}  // namespace betterdev
