#include "core/time.hpp"

#include <charconv>
#include <chrono>

namespace betterdev {

int64_t SystemClock::NowMillis() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void AppendRfc3339(std::string& out, int64_t unix_millis) {
  using namespace std::chrono;
  int64_t ms = unix_millis % 1000;
  int64_t secs = unix_millis / 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  int64_t day_number = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - day_number * 86400;
  const year_month_day ymd{sys_days{days{day_number}}};
  auto put = [&out](int64_t v, int width) {
    char buf[8];
    for (int i = width - 1; i >= 0; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
    out.append(buf, static_cast<size_t>(width));
  };
  put(static_cast<int>(ymd.year()), 4);
  out.push_back('-');
  put(static_cast<unsigned>(ymd.month()), 2);
  out.push_back('-');
  put(static_cast<unsigned>(ymd.day()), 2);
  out.push_back('T');
  put(sod / 3600, 2);
  out.push_back(':');
  put(sod / 60 % 60, 2);
  out.push_back(':');
  put(sod % 60, 2);
  out.push_back('.');
  put(ms, 3);
  out.push_back('Z');
}

std::string FormatRfc3339(int64_t unix_millis) {
  std::string out;
  out.reserve(24);
  AppendRfc3339(out, unix_millis);
  return out;
}

std::optional<int64_t> ParseRfc3339(std::string_view t) {
  using namespace std::chrono;
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > t.size()) return false;
    auto r = std::from_chars(t.data() + pos, t.data() + pos + len, out);
    return r.ec == std::errc() && r.ptr == t.data() + pos + len;
  };
  int y, mo, d, h, mi, s;
  if (t.size() < 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' ||
      t[16] != ':')
    return std::nullopt;
  if (!num(0, 4, y) || !num(5, 2, mo) || !num(8, 2, d) || !num(11, 2, h) || !num(14, 2, mi) ||
      !num(17, 2, s))
    return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;
  size_t pos = 19;
  int64_t millis = 0;
  if (pos < t.size() && t[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') {
      if (digits < 3) millis = millis * 10 + (t[pos] - '0');
      ++digits;
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 3; ++k) millis *= 10;
  }
  int64_t offset_secs = 0;
  if (pos == t.size()) return std::nullopt;
  if (t[pos] == 'Z' || t[pos] == 'z') {
    ++pos;
  } else if (t[pos] == '+' || t[pos] == '-') {
    int oh, om;
    if (!num(pos + 1, 2, oh) || pos + 3 >= t.size() || t[pos + 3] != ':' || !num(pos + 4, 2, om))
      return std::nullopt;
    offset_secs = (oh * 3600 + om * 60) * (t[pos] == '+' ? 1 : -1);
    pos += 6;
  }
  if (pos != t.size()) return std::nullopt;
  int64_t days_since = sys_days{ymd}.time_since_epoch().count();
  int64_t secs = days_since * 86400 + h * 3600 + mi * 60 + s - offset_secs;
  return secs * 1000 + millis;
}

}  // namespace betterdev
