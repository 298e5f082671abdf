#include "http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace betterdev::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 1;
  while (i <= path.size()) {
    size_t slash = path.find('/', i);
    if (slash == std::string_view::npos) slash = path.size();
    out.push_back(path.substr(i, slash - i));
    i = slash + 1;
  }
  return out;
}

bool IsParam(std::string_view seg) { return seg.size() > 2 && seg.front() == '{' && seg.back() == '}'; }

}  // namespace

void Router::Add(Method method, std::string pattern, Handler handler, RouteOptions options) {
  AddRoute(Route{method, std::move(pattern), {}, std::move(handler), {}, options});
}

void Router::AddStreaming(Method method, std::string pattern, StreamHandler handler, RouteOptions options) {
  AddRoute(Route{method, std::move(pattern), {}, {}, std::move(handler), options});
}

void Router::AddRoute(Route route) {
  const std::string& pattern = route.pattern;
  if (pattern.empty() || pattern[0] != '/') throw std::invalid_argument("route pattern must start with '/': " + pattern);
  for (const Route& r : routes_)
    if (r.method == route.method && r.pattern == pattern)
      throw std::invalid_argument("duplicate route " + std::string(MethodName(route.method)) + " " + pattern);
  for (std::string_view seg : SplitPath(pattern)) {
    if (seg.find('{') != std::string_view::npos && !IsParam(seg))
      throw std::invalid_argument("malformed route pattern: " + pattern);
    route.segments.emplace_back(seg);
  }
  routes_.push_back(std::move(route));
}

RouteMatch Router::Find(Method method, std::string_view path) const {
  RouteMatch result;
  if (path.empty() || path[0] != '/') return result;
  std::vector<std::string_view> segs = SplitPath(path);
  Method want = method == Method::kHead ? Method::kGet : method;
  for (const Route& r : routes_) {
    if (r.segments.size() != segs.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    for (size_t i = 0; i < segs.size() && ok; ++i) {
      const std::string& pat = r.segments[i];
      if (IsParam(pat)) {
        auto decoded = segs[i].empty() ? std::nullopt : PercentDecode(segs[i], false);
        if (!decoded) ok = false;
        else params.emplace_back(pat.substr(1, pat.size() - 2), std::move(*decoded));
      } else {
        ok = pat == segs[i];
      }
    }
    if (!ok) continue;
    if (result.pattern.empty()) result.pattern = r.pattern;
    if (std::find(result.allowed.begin(), result.allowed.end(), r.method) == result.allowed.end())
      result.allowed.push_back(r.method);
    if (r.method == want && result.kind != RouteMatch::Kind::kFound) {
      result.kind = RouteMatch::Kind::kFound;
      result.route = &r;
      result.params = std::move(params);
    }
  }
  if (result.kind != RouteMatch::Kind::kFound && !result.allowed.empty())
    result.kind = RouteMatch::Kind::kMethodNotAllowed;
  return result;
}

std::string AllowHeader(const std::vector<Method>& methods) {
  std::vector<Method> all = methods;
  if (std::find(all.begin(), all.end(), Method::kGet) != all.end() &&
      std::find(all.begin(), all.end(), Method::kHead) == all.end())
    all.push_back(Method::kHead);
  all.push_back(Method::kOptions);
  std::sort(all.begin(), all.end());
  all.erase(std::unique(all.begin(), all.end()), all.end());
  std::string out;
  for (Method m : all) {
    if (!out.empty()) out += ", ";
    out += MethodName(m);
  }
  return out;
}

}  // namespace betterdev::http
