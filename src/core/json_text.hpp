// Minimal JSON text helpers for the few places below the api layer that write JSON
// (log lines, the HTTP layer's own error bodies). Full JSON handling lives in api/.
#pragma once

#include <string>
#include <string_view>

namespace betterdev {

// Appends `s` to `out` as a quoted JSON string. Invalid UTF-8 bytes become U+FFFD so the
// output is always valid JSON.
void AppendJsonString(std::string& out, std::string_view s);

// {"error":{"code":"<code>","message":"<message>"}}
std::string ErrorJson(std::string_view code, std::string_view message);

}  // namespace betterdev
