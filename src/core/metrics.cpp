#include "core/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace betterdev {
namespace {

void AppendNumber(std::string& out, double v) {
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) std::snprintf(buf, sizeof buf, "%.0f", v);
  else std::snprintf(buf, sizeof buf, "%.9g", v);
  out += buf;
}

void AppendSeriesName(std::string& out, std::string_view name, std::string_view labels,
                      std::string_view extra = {}) {
  out += name;
  if (labels.empty() && extra.empty()) return;
  out.push_back('{');
  out += labels;
  if (!labels.empty() && !extra.empty()) out.push_back(',');
  out += extra;
  out.push_back('}');
}

}  // namespace

std::string PromLabels(std::initializer_list<std::pair<std::string_view, std::string_view>> labels) {
  std::string out;
  for (const auto& [k, v] : labels) {
    if (!out.empty()) out.push_back(',');
    out += k;
    out += "=\"";
    for (char c : v) {
      if (c == '\\') out += "\\\\";
      else if (c == '"') out += "\\\"";
      else if (c == '\n') out += "\\n";
      else out.push_back(c);
    }
    out.push_back('"');
  }
  return out;
}

void MetricsRegistry::DeclareCounter(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  families_.try_emplace(name, Family{Type::kCounter, help, {}, {}});
}

void MetricsRegistry::DeclareGauge(const std::string& name, const std::string& help) {
  std::lock_guard lock(mu_);
  families_.try_emplace(name, Family{Type::kGauge, help, {}, {}});
}

void MetricsRegistry::DeclareHistogram(const std::string& name, const std::string& help,
                                       std::vector<double> bounds) {
  std::sort(bounds.begin(), bounds.end());
  std::lock_guard lock(mu_);
  families_.try_emplace(name, Family{Type::kHistogram, help, std::move(bounds), {}});
}

MetricsRegistry::Family& MetricsRegistry::Get(std::string_view name, Type expected) {
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != expected)
    throw std::logic_error("metric not declared with this type: " + std::string(name));
  return it->second;
}

void MetricsRegistry::Add(std::string_view name, const std::string& labels, double delta) {
  std::lock_guard lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type == Type::kHistogram)
    throw std::logic_error("metric not declared as counter or gauge: " + std::string(name));
  auto s = it->second.series.find(labels);
  if (s == it->second.series.end()) s = it->second.series.emplace(labels, Series{}).first;
  s->second.value += delta;
}

void MetricsRegistry::Set(std::string_view name, const std::string& labels, double value) {
  std::lock_guard lock(mu_);
  Family& f = Get(name, Type::kGauge);
  f.series[labels].value = value;
}

void MetricsRegistry::Observe(std::string_view name, const std::string& labels, double value) {
  std::lock_guard lock(mu_);
  Family& f = Get(name, Type::kHistogram);
  auto s = f.series.find(labels);
  if (s == f.series.end()) {
    s = f.series.emplace(labels, Series{}).first;
    s->second.buckets.assign(f.bounds.size() + 1, 0);
  }
  size_t idx = static_cast<size_t>(std::lower_bound(f.bounds.begin(), f.bounds.end(), value) - f.bounds.begin());
  ++s->second.buckets[idx];
  s->second.sum += value;
  ++s->second.count;
}

void MetricsRegistry::AddCollector(std::function<void(MetricsRegistry&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() {
  std::vector<std::function<void(MetricsRegistry&)>> collectors;
  {
    std::lock_guard lock(mu_);
    collectors = collectors_;
  }
  for (auto& c : collectors) c(*this);

  static constexpr std::string_view kTypeNames[] = {"counter", "gauge", "histogram"};
  std::string out;
  std::lock_guard lock(mu_);
  for (const auto& [name, f] : families_) {
    out += "# HELP ";
    out += name;
    out.push_back(' ');
    out += f.help;
    out += "\n# TYPE ";
    out += name;
    out.push_back(' ');
    out += kTypeNames[static_cast<int>(f.type)];
    out += "\n";
    for (const auto& [labels, s] : f.series) {
      if (f.type != Type::kHistogram) {
        AppendSeriesName(out, name, labels);
        out.push_back(' ');
        AppendNumber(out, s.value);
        out.push_back('\n');
        continue;
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= f.bounds.size(); ++i) {
        cumulative += s.buckets[i];
        std::string le = "le=\"";
        if (i < f.bounds.size()) AppendNumber(le, f.bounds[i]);
        else le += "+Inf";
        le += "\"";
        AppendSeriesName(out, name + "_bucket", labels, le);
        out.push_back(' ');
        out += std::to_string(cumulative);
        out.push_back('\n');
      }
      AppendSeriesName(out, name + "_sum", labels);
      out.push_back(' ');
      AppendNumber(out, s.sum);
      out.push_back('\n');
      AppendSeriesName(out, name + "_count", labels);
      out.push_back(' ');
      out += std::to_string(s.count);
      out.push_back('\n');
    }
  }
  return out;
}

}  // namespace betterdev
