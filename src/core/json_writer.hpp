// Streaming JSON output: appends straight into one string, no intermediate tree. Used for
// response bodies on hot paths; parsing input stays with nlohmann::json in the api module.
//
//   JsonWriter w;
//   w.BeginObject().Key("id").String(id).Key("tags").BeginArray().String("a").EndArray().EndObject();
//   std::string body = w.Take();
//
// Misuse (a value without a key inside an object, unbalanced End*) is a programming error and
// produces invalid JSON; it is not checked at run time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace betterdev {

class JsonWriter {
 public:
  JsonWriter() { out_.reserve(256); }

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  JsonWriter& Key(std::string_view key);
  JsonWriter& String(std::string_view value);
  JsonWriter& Int(int64_t value);
  // Six significant digits; NaN and infinities are written as null.
  JsonWriter& Double(double value);
  JsonWriter& Bool(bool value);
  JsonWriter& Null();
  // RFC 3339 UTC text of a Unix time in milliseconds.
  JsonWriter& Timestamp(int64_t unix_millis);
  // Inserts already-valid JSON text as one value.
  JsonWriter& Raw(std::string_view json);

  std::string Take() { return std::move(out_); }

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  void BeforeValue();

  std::string out_;
  std::vector<bool> has_items_;  // per open container: whether a comma is needed
  bool after_key_ = false;
};

}  // namespace betterdev
