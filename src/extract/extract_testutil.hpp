// Helpers shared by the extract module's tests.
#pragma once

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "extract/extractor.hpp"

namespace betterdev::extract::testing {

inline const std::string kData = BETTERDEV_SHARED_DATA;
inline const std::string kOffice = kData + "/office/unstructured-example-docs/";

inline std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteBytes(const std::string& path, std::string_view bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Lower-case ASCII words: enough to compare extracted text with its source.
inline std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> words;
  std::string w;
  for (char c : std::string(s) + " ") {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      w.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else if (!w.empty()) {
      words.push_back(std::move(w));
      w.clear();
    }
  }
  return words;
}

// The arguments of every `\command{...}` in a LaTeX source, in order ("section" gives the
// section titles).
inline std::vector<std::string> TexArguments(const std::string& tex, const std::string& command) {
  std::vector<std::string> out;
  const std::string open = "\\" + command + "{";
  for (size_t at = tex.find(open); at != std::string::npos; at = tex.find(open, at + 1)) {
    const size_t start = at + open.size();
    out.push_back(tex.substr(start, tex.find('}', start) - start));
  }
  return out;
}

// A PDF of `objects` (numbered from 1; the first is the catalog), with its cross-reference table.
inline std::string PdfOf(const std::vector<std::string>& objects) {
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t off : offsets) {
    char line[24];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", off);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) + " /Root 1 0 R >>\nstartxref\n" +
         std::to_string(xref) + "\n%%EOF\n";
  return pdf;
}

struct Page {
  int number;
  int count;
  std::string text;
};

class CollectingSink : public PageSink {
 public:
  Status OnPage(int page_number, int page_count, std::string_view utf8_text) override {
    pages.push_back({page_number, page_count, std::string(utf8_text)});
    if (fail_at_page == page_number) return Status::Internal("sink is full");
    return Status::Ok();
  }
  std::string AllText() const {
    std::string all;
    for (const Page& p : pages) all += p.text + "\n\n";
    return all;
  }
  void OnOutlineEntry(int level, int page_number, std::string_view title) override {
    EXPECT_TRUE(pages.empty()) << "an outline entry after a page";
    outline.push_back({level, page_number, std::string(title)});
  }
  std::vector<Page> pages;
  std::vector<Page> outline;  // {level, page, title}
  int fail_at_page = 0;
};

inline Status ExtractFile(const std::string& mime, const std::string& path, CollectingSink& sink,
                          const ExtractLimits& limits = {}) {
  std::unique_ptr<Extractor> extractor = ExtractorFor(mime);
  if (!extractor) return Status::Internal("no extractor for " + mime);
  Result<InputFile> file = InputFile::Open(path);
  if (!file.ok()) return file.status();
  return extractor->Extract(*file, limits, sink);
}

// The text of a one-page document, with a test failure when it is not one page.
inline std::string OnlyPage(const std::string& mime, const std::string& path) {
  CollectingSink sink;
  const Status st = ExtractFile(mime, path, sink);
  EXPECT_TRUE(st.ok()) << path << ": " << st.message();
  if (sink.pages.size() != 1) {
    ADD_FAILURE() << path << ": " << sink.pages.size() << " pages";
    return "";
  }
  EXPECT_EQ(sink.pages[0].number, 1);
  EXPECT_EQ(sink.pages[0].count, 1);
  return sink.pages[0].text;
}

}  // namespace betterdev::extract::testing
