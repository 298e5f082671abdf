#include "chunk/chunker.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace betterdev::chunk {
namespace {

// ---- An independent model of the text, so the checks do not trust the code under test.

// Length of the well-formed UTF-8 sequence at s[i] (Unicode table 3-7), or 1 for a byte that
// starts none: the chunker's "a bad byte is one character".
size_t SequenceLength(std::string_view s, size_t i) {
  struct Row {
    unsigned char lead_lo, lead_hi, second_lo, second_hi;
    size_t length;
  };
  static constexpr Row kRows[] = {{0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
                                  {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3},
                                  {0xEE, 0xEF, 0x80, 0xBF, 3}, {0xF0, 0xF0, 0x90, 0xBF, 4},
                                  {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4}};
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  for (const Row& row : kRows) {
    if (byte(0) < row.lead_lo || byte(0) > row.lead_hi) continue;
    if (i + row.length > s.size()) return 1;
    if (byte(1) < row.second_lo || byte(1) > row.second_hi) return 1;
    for (size_t k = 2; k < row.length; ++k) {
      if ((byte(k) & 0xC0) != 0x80) return 1;
    }
    return row.length;
  }
  return 1;
}

// Byte offset of every code point, then the text's size.
std::vector<size_t> Offsets(std::string_view s) {
  std::vector<size_t> at;
  for (size_t i = 0; i < s.size(); i += SequenceLength(s, i)) at.push_back(i);
  at.push_back(s.size());
  return at;
}

bool IsWellFormed(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = SequenceLength(s, i);
    if (n == 1 && static_cast<unsigned char>(s[i]) >= 0x80) return false;
    i += n;
  }
  return true;
}

// The only whitespace the generators below produce.
bool IsTestSpace(std::string_view cp) {
  for (std::string_view space : {" ", "\t", "\n", "\v", "\f", "\r", "\u00A0", "\u3000"}) {
    if (cp == space) return true;
  }
  return false;
}

struct TestDoc {
  DocumentText doc;
  std::vector<std::pair<size_t, int>> starts;  // built here, not read from `doc`

  int ExpectedPage(size_t byte) const {
    int page = 0;
    for (const auto& [start, number] : starts) {
      if (start <= byte) page = number;
    }
    return page;
  }
};

TestDoc MakeDoc(const std::vector<std::pair<int, std::string>>& pages) {
  TestDoc t;
  std::string expected;
  for (const auto& [number, text] : pages) {
    t.doc.AddPage(number, text);
    if (text.empty()) continue;
    if (!expected.empty()) expected += "\n\n";
    t.starts.emplace_back(expected.size(), number);
    expected += text;
  }
  EXPECT_EQ(t.doc.text(), expected);
  return t;
}

TestDoc OnePage(std::string text) { return MakeDoc({{1, std::move(text)}}); }

// Checks every promise of ChunkText's contract against the model.
void CheckInvariants(const TestDoc& t, const std::vector<Chunk>& chunks, const ChunkOptions& o) {
  const std::string_view text = t.doc.text();
  const std::vector<size_t> at = Offsets(text);
  const auto total = static_cast<int64_t>(at.size() - 1);
  const auto is_space = [&](int64_t i) {
    return IsTestSpace(text.substr(at[i], at[i + 1] - at[i]));
  };
  int64_t covered = 0;  // every non-space before this lies in a chunk
  for (size_t k = 0; k < chunks.size(); ++k) {
    const Chunk& c = chunks[k];
    ASSERT_EQ(c.ordinal, static_cast<int>(k));
    ASSERT_GE(c.char_start, 0) << k;
    ASSERT_LT(c.char_start, c.char_end) << k;
    ASSERT_LE(c.char_end, total) << k;
    EXPECT_LE(c.char_end - c.char_start, static_cast<int64_t>(o.size)) << k;
    EXPECT_EQ(c.text, text.substr(at[c.char_start], at[c.char_end] - at[c.char_start])) << k;
    EXPECT_FALSE(is_space(c.char_start)) << k;
    EXPECT_FALSE(is_space(c.char_end - 1)) << k;
    EXPECT_EQ(c.page_start, t.ExpectedPage(at[c.char_start])) << k;
    EXPECT_EQ(c.page_end, t.ExpectedPage(at[c.char_end] - 1)) << k;
    if (k > 0) {
      const Chunk& prev = chunks[k - 1];
      EXPECT_GT(c.char_start, prev.char_start) << k;
      EXPECT_GT(c.char_end, prev.char_end) << k;
      EXPECT_LE(prev.char_end - c.char_start, static_cast<int64_t>(o.overlap)) << k;
    }
    for (int64_t i = covered; i < c.char_start; ++i) ASSERT_TRUE(is_space(i)) << "uncovered " << i;
    covered = std::max(covered, c.char_end);
  }
  for (int64_t i = covered; i < total; ++i) ASSERT_TRUE(is_space(i)) << "uncovered " << i;
}

// ---- Random documents (fixed seeds): words from a script, separators, occasional long words.

enum class Script { kLatin, kGreek, kCjk, kEmoji, kMixed, kBadBytes };

std::vector<std::string_view> Letters(Script script) {
  switch (script) {
    case Script::kLatin:
      return {"a", "b", "e", "k", "o", "s", "t", "x", "A", "Q", "1", ","};
    case Script::kGreek:
      return {"α", "β", "γ", "δ", "ε", "ή", "θ", "λ", "π", "σ", "ω", "Ω"};
    case Script::kCjk:
      return {"文", "字", "中", "国", "語", "日", "本", "の", "は", "、"};
    case Script::kEmoji:
      return {"😀", "🚀", "👍🏽", "🇩🇪", "é", "a"};
    case Script::kMixed:
      return {"a", "ß", "ж", "ε", "文", "😀", "€", "𝄞", "z"};
    case Script::kBadBytes:
      return {"a",    "\xff", "\x80", "\xc0\xaf", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80",
              "\xc2", "€",    "é",    "😀"};
  }
  return {};
}

// Spaces weigh most; "" runs words together, as CJK text does.
constexpr std::string_view kSeparators[] = {
    " ",    " ",  " ",  " ",      " ",      " ",        ". ", "? ", "! ", ".\" ", "\n",
    "\n\n", "  ", "\t", "\u00A0", "\u3000", "\r\n\r\n", "。", "！", "？", "",
};

std::string RandomText(std::mt19937& rng, Script script, size_t words) {
  const std::vector<std::string_view> letters = Letters(script);
  std::string out;
  for (size_t w = 0; w < words; ++w) {
    const size_t length = rng() % 40 == 0 ? 30 + rng() % 1500 : 1 + rng() % 9;
    for (size_t i = 0; i < length; ++i) out += letters[rng() % letters.size()];
    out += kSeparators[rng() % std::size(kSeparators)];
  }
  return out;
}

TestDoc RandomDoc(std::mt19937& rng, Script script) {
  std::vector<std::pair<int, std::string>> pages;
  int number = 0;
  for (size_t p = 0, n = 1 + rng() % 4; p < n; ++p) {
    number += 1 + static_cast<int>(rng() % 3);
    const bool empty = rng() % 6 == 0;
    pages.emplace_back(number, empty ? std::string() : RandomText(rng, script, rng() % 150));
  }
  return MakeDoc(pages);
}

constexpr ChunkOptions kOptionSets[] = {{500, 100}, {100, 20}, {50, 10}, {20, 19}, {64, 63},
                                        {7, 3},     {3, 1},    {1, 0},   {10, 0}};

std::string Describe(const ChunkOptions& o) {
  return "size " + std::to_string(o.size) + " overlap " + std::to_string(o.overlap);
}

TEST(ChunkText, RandomDocumentsKeepEveryInvariant) {
  for (Script script : {Script::kLatin, Script::kGreek, Script::kCjk, Script::kEmoji,
                        Script::kMixed, Script::kBadBytes}) {
    for (uint32_t seed = 1; seed <= 12; ++seed) {
      std::mt19937 rng(seed * 7919 + static_cast<uint32_t>(script));
      const TestDoc t = RandomDoc(rng, script);
      for (const ChunkOptions& o : kOptionSets) {
        SCOPED_TRACE("script " + std::to_string(static_cast<int>(script)) + " seed " +
                     std::to_string(seed) + " " + Describe(o));
        CheckInvariants(t, ChunkText(t.doc, o), o);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(ChunkText, CutsNeverFallInsideUtf8Sequences) {
  // The text is well-formed, so a chunk is well-formed exactly when neither of its cuts splits
  // a sequence.
  std::mt19937 rng(42);
  for (Script script : {Script::kGreek, Script::kCjk, Script::kEmoji, Script::kMixed}) {
    const TestDoc t = OnePage(RandomText(rng, script, 400));
    ASSERT_TRUE(IsWellFormed(t.doc.text()));
    for (size_t size = 1; size <= 13; ++size) {
      const std::vector<Chunk> chunks = ChunkText(t.doc, {size, size / 2});
      ASSERT_FALSE(chunks.empty());
      for (const Chunk& c : chunks) {
        ASSERT_TRUE(IsWellFormed(c.text)) << "size " << size << " chunk " << c.ordinal;
      }
    }
  }
}

TEST(ChunkText, EmptyAndWhitespaceOnlyTextGiveNoChunks) {
  EXPECT_TRUE(ChunkText(DocumentText(), {}).empty());
  EXPECT_TRUE(ChunkText(OnePage(" \n\n\t \u3000 \r\n").doc, {}).empty());
  EXPECT_TRUE(ChunkText(MakeDoc({{1, "  "}, {2, "\n"}}).doc, {5, 1}).empty());
}

TEST(ChunkText, ShortTextIsOneTrimmedChunk) {
  const TestDoc t = OnePage("  \nΚαλημέρα κόσμε. 你好。 😀\n ");
  const std::vector<Chunk> chunks = ChunkText(t.doc, {});
  ASSERT_EQ(chunks.size(), 1u);
  EXPECT_EQ(chunks[0].text, "Καλημέρα κόσμε. 你好。 😀");
  EXPECT_EQ(chunks[0].char_start, 3);
  EXPECT_EQ(chunks[0].char_end, 3 + 21);
  EXPECT_EQ(chunks[0].page_start, 1);
  EXPECT_EQ(chunks[0].page_end, 1);
}

TEST(ChunkText, ProseOverlapsByAboutTheOverlapFromAWordStart) {
  std::mt19937 rng(7);
  std::string text;
  while (text.size() < 20000) {
    for (size_t i = 0, n = 1 + rng() % 8; i < n; ++i) text += static_cast<char>('a' + rng() % 26);
    text += rng() % 10 == 0 ? ". " : " ";
  }
  const TestDoc t = OnePage(text);
  const ChunkOptions o;  // the defaults: 500 and 100
  const std::vector<Chunk> chunks = ChunkText(t.doc, o);
  CheckInvariants(t, chunks, o);
  ASSERT_GT(chunks.size(), 40u);
  for (size_t k = 0; k + 1 < chunks.size(); ++k) {
    const Chunk& a = chunks[k];
    const Chunk& b = chunks[k + 1];
    EXPECT_GE(a.char_end - a.char_start, 500 - 500 / 3) << "cut before the last third";
    EXPECT_LE(a.char_end - b.char_start, 100);
    EXPECT_GE(a.char_end - b.char_start, 100 - 10) << "a word is at most 8 letters";
    EXPECT_EQ(text[b.char_start - 1], ' ') << "overlap starts inside a word";
  }
}

// size 60: the last third of the window is [40, 60].
TEST(ChunkText, PrefersAParagraphEndInTheLastThird) {
  const std::string first = "Alpha beta gamma delta epsilon zeta eta theta.";
  const std::string rest = "\n\nKappa. Lambda mu nu xi omicron pi rho sigma tau upsilon.";
  ASSERT_GE(first.size(), 40u);
  ASSERT_LE(first.size() + 8, 60u);  // "Kappa." also ends inside the window
  const std::vector<Chunk> chunks = ChunkText(OnePage(first + rest).doc, {60, 10});
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, first);
}

TEST(ChunkText, SeesAParagraphEndJustPastTheWindow) {
  // The first paragraph fills the window exactly; "\r\n\r\n" lies wholly beyond it.
  const std::string first = "Alpha beta gamma delta epsilon zeta eta theta. Iota kappa mu";
  ASSERT_EQ(first.size(), 60u);
  const std::vector<Chunk> chunks =
      ChunkText(OnePage(first + "\r\n\r\nNu xi omicron pi rho sigma.").doc, {60, 10});
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, first);  // not the sentence ending at 46
}

TEST(ChunkText, IgnoresAParagraphEndBeforeTheLastThird) {
  const std::string first = "Short one.\n\nAlpha beta gamma delta epsilon zeta eta theta.";
  ASSERT_LE(first.size(), 60u);
  const std::vector<Chunk> chunks =
      ChunkText(OnePage(first + " Iota kappa lambda mu nu xi omicron pi rho.").doc, {60, 10});
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, first);
}

TEST(ChunkText, PrefersASentenceEndOverLaterWhitespace) {
  const std::string first = "Alpha beta gamma delta epsilon zeta eta theta.";
  ASSERT_GE(first.size(), 40u);
  const std::vector<Chunk> chunks =
      ChunkText(OnePage(first + " Iota kappa lambda mu nu xi omicron pi rho").doc, {60, 10});
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, first);
}

TEST(ChunkText, SentenceEndMayCarryAClosingQuote) {
  const std::string first = "Alpha beta gamma delta epsilon zeta eta \"theta iota.\"";
  ASSERT_GE(first.size(), 40u);
  const std::vector<Chunk> chunks =
      ChunkText(OnePage(first + " Kappa lambda mu nu xi omicron pi rho").doc, {60, 10});
  ASSERT_GE(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, first);
}

TEST(ChunkText, CutsAtCjkSentenceEndsWithoutSpaces) {
  // 11 characters a sentence; size 25 puts the second sentence end (22) in the last third.
  for (std::string_view end : {"。", "！", "？"}) {
    std::string text;
    for (int i = 0; i < 6; ++i) text += "一二三四五六七八九十" + std::string(end);
    const TestDoc t = OnePage(text);
    const ChunkOptions o{25, 5};
    const std::vector<Chunk> chunks = ChunkText(t.doc, o);
    CheckInvariants(t, chunks, o);
    ASSERT_GE(chunks.size(), 2u);
    EXPECT_EQ(chunks[0].char_end, 22);
    EXPECT_TRUE(chunks[0].text.ends_with(end));
  }
}

TEST(ChunkText, FallsBackToWhitespaceWhenNoSentenceEndIsNear) {
  const std::string text =
      "Alpha beta. Gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi";
  const std::vector<Chunk> chunks = ChunkText(OnePage(text).doc, {60, 10});
  ASSERT_GE(chunks.size(), 2u);
  const Chunk& c = chunks[0];
  EXPECT_GE(c.char_end, 40);
  EXPECT_EQ(text[c.char_end], ' ') << c.text;
  EXPECT_FALSE(c.text.ends_with("."));
}

TEST(ChunkText, HardCutsLongWordsAtCodePoints) {
  std::string word;
  for (int i = 0; i < 1200; ++i) word += "é";
  const std::vector<Chunk> chunks = ChunkText(OnePage(word).doc, {});
  ASSERT_EQ(chunks.size(), 3u);
  const int64_t expected[][2] = {{0, 500}, {400, 900}, {800, 1200}};
  for (size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(chunks[k].char_start, expected[k][0]);
    EXPECT_EQ(chunks[k].char_end, expected[k][1]);
    EXPECT_EQ(chunks[k].text.size(), 2 * static_cast<size_t>(expected[k][1] - expected[k][0]));
  }

  std::string emoji;
  for (int i = 0; i < 50; ++i) emoji += "😀";
  for (const Chunk& c : ChunkText(OnePage("go " + emoji).doc, {7, 2})) {
    EXPECT_LE(c.char_end - c.char_start, 7);
    EXPECT_TRUE(IsWellFormed(c.text)) << c.ordinal;
  }
}

TEST(ChunkText, SkipsLongWhitespaceGapsWithoutEmptyChunks) {
  const TestDoc t = OnePage("abc" + std::string(1000, ' ') + "def");
  const ChunkOptions o{10, 3};
  const std::vector<Chunk> chunks = ChunkText(t.doc, o);
  CheckInvariants(t, chunks, o);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(chunks[0].text, "abc");
  EXPECT_EQ(chunks[1].text, "def");
  EXPECT_EQ(chunks[1].char_start, 1003);
}

std::string Sentences(std::string_view page, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    out += (i ? " " : "") + std::string(page) + " sentence number " + std::to_string(i) + ".";
  }
  return out;
}

TEST(ChunkText, PageRangesFollowPageStarts) {
  const TestDoc t = MakeDoc({{1, Sentences("One", 18)},
                             {2, Sentences("Two", 18)},
                             {3, Sentences("Three", 18)},
                             {4, ""},
                             {7, Sentences("Seven", 3)}});
  const ChunkOptions o;
  const std::vector<Chunk> chunks = ChunkText(t.doc, o);
  CheckInvariants(t, chunks, o);
  const auto spans = [&](int first, int last) {
    return std::any_of(chunks.begin(), chunks.end(),
                       [&](const Chunk& c) { return c.page_start == first && c.page_end == last; });
  };
  EXPECT_TRUE(spans(1, 2));
  EXPECT_TRUE(spans(2, 3));
  EXPECT_TRUE(spans(3, 7));
  for (const Chunk& c : chunks) EXPECT_NE(c.page_end, 4);
}

// A table as extractors write it: rows of cells joined by " | ", the first row the header.
std::string TableRows(int rows) {
  std::string t = "Item | Quantity | Remarks";
  for (int r = 1; r <= rows; ++r) {
    t += "\nitem " + std::to_string(r) + " | " + std::to_string(r * 7) + " | remark on row " + std::to_string(r) +
         " of the table.";
  }
  return t;
}

TEST(ChunkText, TablesAreCutAtRowEndsAndCarryTheirHeader) {
  const ChunkOptions o{200, 50};
  const TestDoc t = OnePage("Intro paragraph before the table.\n\n" + TableRows(40) + "\n\nClosing words after the table.");
  const std::vector<Chunk> chunks = ChunkText(t.doc, o);
  CheckInvariants(t, chunks, o);
  ASSERT_GT(chunks.size(), 5u);
  int with_context = 0;
  for (const Chunk& c : chunks) {
    // Every chunk holds whole rows: it ends at a row end, the paragraph's end or the text's end.
    const size_t after = t.doc.text().find(c.text) + c.text.size();
    EXPECT_TRUE(after == t.doc.text().size() || t.doc.text()[after] == '\n') << c.text;
    if (!c.context.empty()) {
      ++with_context;
      EXPECT_EQ(c.context, "Item | Quantity | Remarks");
      EXPECT_TRUE(c.text.starts_with("item ")) << "a continuation starts at a row: " << c.text;
    }
  }
  EXPECT_EQ(chunks.front().context, "");
  EXPECT_GE(with_context, 4);
  // A table that fits one chunk carries no context; neither does prose with a stray " | ".
  EXPECT_EQ(ChunkText(OnePage("a | b\nc | d").doc, o).at(0).context, "");
  EXPECT_EQ(ChunkText(OnePage(std::string(300, 'x') + " | y").doc, o).back().context, "");
}

TEST(ChunkText, ATableWhoseRowsStartOrEndWithAnEmptyCellIsStillATable) {
  // A one-column statement as the PDF extractor writes it once lines are trimmed: the header
  // row has no label ("| 2023"), a section row has no figure ("Land: |").
  std::string text = "| 2023\nLand: |\n";
  for (int i = 0; i < 30; ++i) text += "Building number " + std::to_string(i) + " | " + std::to_string(1000 + i) + "\n";
  const TestDoc t = OnePage(text);
  const std::vector<Chunk> chunks = ChunkText(t.doc, {120, 30});
  ASSERT_GT(chunks.size(), 2u);
  for (size_t i = 1; i < chunks.size(); ++i) EXPECT_EQ(chunks[i].context, "| 2023") << chunks[i].text;
}

TEST(ChunkText, RandomTablesKeepEveryInvariant) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::string text;
    for (int block = 0; block < 6; ++block) {
      if (rng() % 2) {
        text += TableRows(static_cast<int>(rng() % 30) + 1);
      } else {
        text += RandomText(rng, Script::kLatin, rng() % 80 + 1);
      }
      text += rng() % 3 ? "\n\n" : "\n";
    }
    const ChunkOptions o{static_cast<size_t>(rng() % 400) + 40, static_cast<size_t>(rng() % 30)};
    const TestDoc t = OnePage(text);
    CheckInvariants(t, ChunkText(t.doc, o), o);
  }
}

TEST(DocumentText, JoinsPagesAndFindsThePageOfAByte) {
  DocumentText doc;
  EXPECT_EQ(doc.PageAt(0), 0);
  doc.AddPage(1, "ab");
  doc.AddPage(3, "");  // absent
  doc.AddPage(5, "cd");
  EXPECT_EQ(doc.text(), "ab\n\ncd");
  EXPECT_EQ(doc.page_count(), 2u);
  EXPECT_EQ(doc.PageAt(0), 1);
  EXPECT_EQ(doc.PageAt(3), 1);  // the separator belongs to the page before it
  EXPECT_EQ(doc.PageAt(4), 5);
  EXPECT_EQ(doc.PageAt(99), 5);
}

TEST(ChunkText, IsDeterministic) {
  std::mt19937 rng(99);
  const std::string text = RandomText(rng, Script::kMixed, 2000);
  const std::vector<Chunk> a = ChunkText(OnePage(text).doc, {120, 30});
  const std::vector<Chunk> b = ChunkText(OnePage(text).doc, {120, 30});
  ASSERT_EQ(a.size(), b.size());
  ASSERT_GT(a.size(), 10u);
  for (size_t k = 0; k < a.size(); ++k) {
    EXPECT_EQ(a[k].ordinal, b[k].ordinal);
    EXPECT_EQ(a[k].page_start, b[k].page_start);
    EXPECT_EQ(a[k].page_end, b[k].page_end);
    EXPECT_EQ(a[k].char_start, b[k].char_start);
    EXPECT_EQ(a[k].char_end, b[k].char_end);
    EXPECT_EQ(a[k].text, b[k].text);
  }
}

TEST(ChunkText, CountsEachBadByteAsOneCharacter) {
  // Every bad byte is a character of its own; "€" is one character.
  const std::string text =
      "ab\xff"            // 3 characters
      "cd\x80"            // 3, a stray continuation byte
      "\xe2\x82"          // 2, a truncated sequence
      "x"                 // 1, not swallowed by the truncated sequence
      "\xc0\xaf"          // 2, an overlong form
      "\xed\xa0\x80"      // 3, a surrogate
      "€"                 // 1
      "\xf4\x90\x80\x80"  // 4, above U+10FFFF
      "end";              // 3
  const TestDoc t = OnePage(text);
  const std::vector<Chunk> whole = ChunkText(t.doc, {});
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_EQ(whole[0].char_end, 22);
  EXPECT_EQ(whole[0].text, text);

  const size_t euro = text.find("€");
  for (size_t size = 1; size <= 8; ++size) {
    const ChunkOptions o{size, size / 3};
    const std::vector<Chunk> chunks = ChunkText(t.doc, o);
    CheckInvariants(t, chunks, o);
    for (const Chunk& c : chunks) {
      const size_t first = Offsets(text)[c.char_start];
      const size_t last = first + c.text.size();
      EXPECT_TRUE(first <= euro || first >= euro + 3) << "split €, size " << size;
      EXPECT_TRUE(last <= euro || last >= euro + 3) << "split €, size " << size;
    }
  }
}

TEST(ValidateOptions, RejectsZeroSizeAndOverlapNotBelowSize) {
  EXPECT_TRUE(ValidateOptions({}).ok());
  EXPECT_TRUE(ValidateOptions({10, 9}).ok());
  EXPECT_TRUE(ValidateOptions({1, 0}).ok());
  const Status zero = ValidateOptions({0, 0});
  EXPECT_EQ(zero.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(zero.message().find("size"), std::string::npos);
  for (ChunkOptions o : {ChunkOptions{10, 10}, ChunkOptions{10, 11}, ChunkOptions{100, 500}}) {
    const Status s = ValidateOptions(o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << Describe(o);
    EXPECT_EQ(s.message(), "chunk overlap must be smaller than the chunk size");
  }
}

TEST(ChunkText, ClampsInvalidOptionsInsteadOfLooping) {
  std::mt19937 rng(5);
  const TestDoc t = OnePage(RandomText(rng, Script::kLatin, 200));
  CheckInvariants(t, ChunkText(t.doc, {0, 0}), {1, 0});
  CheckInvariants(t, ChunkText(t.doc, {10, 50}), {10, 9});
}

TEST(ChunkText, ChunksTenMegabytesInLinearTime) {
  std::mt19937 rng(3);
  constexpr std::string_view kWords[] = {"the",         "chunker", "cuts", "documents", "into",
                                         "overlapping", "pieces.", "Then", "retrieval", "works."};
  std::string text;
  text.reserve(10'000'100);
  while (text.size() < 10'000'000) {
    text += kWords[rng() % std::size(kWords)];
    text += rng() % 50 == 0 ? "\n\n" : " ";
  }
  const TestDoc t = OnePage(text);
  const auto began = std::chrono::steady_clock::now();
  const std::vector<Chunk> chunks = ChunkText(t.doc, {});
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - began;
  // Release builds take a small fraction of a second; this bound only has to survive sanitizers
  // and a loaded machine while still catching anything quadratic.
  EXPECT_LT(took.count(), 5.0);
  ASSERT_GT(chunks.size(), 10'000'000u / 500);
  EXPECT_EQ(chunks.front().char_start, 0);
  EXPECT_EQ(static_cast<size_t>(chunks.back().char_end), text.find_last_not_of(" \n") + 1);
  for (size_t k = 1; k < chunks.size(); ++k) {  // ASCII, so characters are bytes
    ASSERT_LT(chunks[k - 1].char_end, chunks[k].char_end);
    ASSERT_LE(chunks[k - 1].char_end - chunks[k].char_start, 100);
    ASSERT_LE(chunks[k].char_end - chunks[k].char_start, 500);
  }
  for (size_t k = 0; k < chunks.size(); k += 997) {
    const Chunk& c = chunks[k];
    EXPECT_EQ(c.text, text.substr(c.char_start, c.char_end - c.char_start));
  }
}

}  // namespace
}  // namespace betterdev::chunk
