#include "http/multipart.hpp"

#include <gtest/gtest.h>

#include <random>

namespace betterdev::http {
namespace {

struct Part {
  PartHeader header;
  std::string data;
  bool ended = false;
};

class Collect : public PartHandler {
 public:
  Status OnPartBegin(const PartHeader& h) override {
    parts.push_back({h, {}, false});
    return Status::Ok();
  }
  Status OnPartData(std::string_view bytes) override {
    parts.back().data.append(bytes);
    return Status::Ok();
  }
  Status OnPartEnd() override {
    parts.back().ended = true;
    return Status::Ok();
  }
  std::vector<Part> parts;
};

using namespace std::string_literals;

const std::string kBody =
    "preamble to ignore\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"file\"; filename=\"report q1.pdf\"\r\n"
    "Content-Type: application/pdf\r\n"
    "\r\n"
    "%PDF-1.7 \r\n--XyNot-a-boundary \r\n-- binary\0bytes\r\n"
    "\r\n--XyZ\r\n"
    "Content-Disposition: form-data; name=\"note\"\r\n"
    "\r\n"
    "\r\n--XyZ\r\n"
    "content-disposition: form-data; name=\"f2\"; filename=\"x.txt\"; filename*=UTF-8''%C3%A9t%C3%A9.txt\r\n"
    "\r\n"
    "hello\r\n--XyZ--\r\nepilogue"s;

void ExpectParts(const std::vector<Part>& parts) {
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].header.name, "file");
  EXPECT_EQ(parts[0].header.filename, "report q1.pdf");
  EXPECT_EQ(parts[0].header.content_type, "application/pdf");
  EXPECT_EQ(parts[0].data, std::string("%PDF-1.7 \r\n--XyNot-a-boundary \r\n-- binary\0bytes\r\n", 49));
  EXPECT_EQ(parts[1].header.name, "note");
  EXPECT_FALSE(parts[1].header.filename.has_value());
  EXPECT_EQ(parts[1].data, "");
  EXPECT_EQ(parts[2].header.filename, "\xC3\xA9t\xC3\xA9.txt");
  EXPECT_EQ(parts[2].data, "hello");
  for (const Part& p : parts) EXPECT_TRUE(p.ended);
}

std::string Body() { return std::string(kBody.data(), kBody.size()); }

TEST(Multipart, BoundaryFromContentType) {
  EXPECT_EQ(MultipartBoundary("multipart/form-data; boundary=abc"), "abc");
  EXPECT_EQ(MultipartBoundary("Multipart/Form-Data; charset=utf-8; boundary=\"a b\""), "a b");
  EXPECT_FALSE(MultipartBoundary("multipart/form-data").has_value());
  EXPECT_FALSE(MultipartBoundary("application/json; boundary=abc").has_value());
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'a')).has_value());
}

TEST(Multipart, WholeBody) {
  Collect c;
  MultipartParser p("XyZ", c);
  ASSERT_TRUE(p.Feed(Body()).ok());
  ASSERT_TRUE(p.Finish().ok());
  ExpectParts(c.parts);
}

TEST(Multipart, EverySplitPointAndByteByByte) {
  const std::string body = Body();
  for (size_t cut = 0; cut <= body.size(); ++cut) {
    Collect c;
    MultipartParser p("XyZ", c);
    ASSERT_TRUE(p.Feed(std::string_view(body).substr(0, cut)).ok()) << cut;
    ASSERT_TRUE(p.Feed(std::string_view(body).substr(cut)).ok()) << cut;
    ASSERT_TRUE(p.Finish().ok()) << cut;
    ExpectParts(c.parts);
  }
  Collect c;
  MultipartParser p("XyZ", c);
  for (char ch : body) ASSERT_TRUE(p.Feed(std::string_view(&ch, 1)).ok());
  ASSERT_TRUE(p.Finish().ok());
  ExpectParts(c.parts);
}

// A header block of exactly the limit is accepted and one byte more refused, wherever the body
// is cut (a cut just before the blank line once refused a block at the limit: fuzz_multipart).
TEST(Multipart, TheHeaderLimitHoldsAtEveryCut) {
  for (size_t extra : {0, 1}) {
    const std::string line = "Content-Disposition: form-data; name=\"f\"\r\n";
    const size_t limit = line.size() + 64;
    const std::string filler = "X-Filler: " + std::string(64 - 12 + extra, 'x') + "\r\n";
    ASSERT_EQ(line.size() + filler.size(), limit + extra);
    const std::string body = "--XyZ\r\n" + line + filler + "\r\nbody\r\n--XyZ--\r\n";
    for (size_t cut = 0; cut <= body.size(); ++cut) {
      Collect c;
      MultipartParser p("XyZ", c, limit);
      Status s = p.Feed(std::string_view(body).substr(0, cut));
      if (s.ok()) s = p.Feed(std::string_view(body).substr(cut));
      if (s.ok()) s = p.Finish();
      EXPECT_EQ(s.ok(), extra == 0) << "cut at " << cut << ": " << s.ToString();
    }
  }
}

TEST(Multipart, LargeRandomPartRoundTrips) {
  std::mt19937 rng(7);
  std::string data(300000, '\0');
  for (char& ch : data) ch = static_cast<char>(rng() % 8 == 0 ? '-' : rng() % 256);
  std::string body = "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"r.bin\"\r\n\r\n" + data +
                     "\r\n--b0undary--\r\n";
  Collect c;
  MultipartParser p("b0undary", c);
  for (size_t i = 0; i < body.size(); i += 4093) ASSERT_TRUE(p.Feed(std::string_view(body).substr(i, 4093)).ok());
  ASSERT_TRUE(p.Finish().ok());
  ASSERT_EQ(c.parts.size(), 1u);
  EXPECT_EQ(c.parts[0].data, data);
}

TEST(Multipart, MalformedInputIsAnError) {
  {
    Collect c;
    MultipartParser p("XyZ", c);
    ASSERT_TRUE(p.Feed("--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nabc").ok());
    Status s = p.Finish();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("closing boundary"), std::string::npos);
  }
  {
    Collect c;
    MultipartParser p("XyZ", c, 64);
    Status s = p.Feed("--XyZ\r\nContent-Disposition: form-data; name=\"" + std::string(100, 'a') + "\"\r\n\r\n");
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(p.Feed("more").code(), StatusCode::kInvalidArgument);  // sticky
  }
  {
    Collect c;
    MultipartParser p("XyZ", c);
    EXPECT_FALSE(p.Feed("--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--").ok());  // no disposition
  }
  {
    Collect c;
    MultipartParser p("XyZ", c);
    ASSERT_TRUE(p.Feed("no boundary anywhere").ok());
    EXPECT_FALSE(p.Finish().ok());
    EXPECT_TRUE(c.parts.empty());
  }
}

class Refuse : public Collect {
 public:
  Status OnPartData(std::string_view) override { return Status::ResourceExhausted("too big"); }
};

TEST(Multipart, HandlerErrorsStopParsing) {
  Refuse r;
  MultipartParser p("XyZ", r);
  Status s = p.Feed(Body());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(p.Finish().code(), StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace betterdev::http
