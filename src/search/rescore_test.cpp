// Hybrid's second stage on candidates whose order the first stage got wrong.
#include "search/rescore.hpp"

#include "search/question.hpp"

#include <gtest/gtest.h>

namespace betterdev::search {
namespace {

class RescoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = index::Tokenizer::Open();
    ASSERT_TRUE(t.ok());
    rescorer = std::make_unique<Rescorer>(std::shared_ptr<const index::Tokenizer>(std::move(*t)));
  }
  std::unique_ptr<Rescorer> rescorer;
};

TEST_F(RescoreTest, WordsFoundTogetherOutrankTheSameWordsFarApart) {
  std::string apart = "Net revenue of the period";
  for (int i = 0; i < 40; ++i) apart += " and other words";
  apart += " were reported in total sales";
  const std::vector<RescoreCandidate> c = {
      {1.0, apart},
      {0.9, "Total net sales | 82,959 | 81,797"},
      {0.8, "nothing of what was asked"},
  };
  const std::vector<double> s = rescorer->Scores("total net sales", c, {0.5, 0});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_GT(s[1], s[0]);                   // the row holds all three words within a few terms
  EXPECT_DOUBLE_EQ(s[2], 0.8);             // no word of the question: its first-stage share alone
  EXPECT_GT(s[0], 1.0);                    // two of three words close together still count
  const std::vector<double> off = rescorer->Scores("total net sales", c, {0, 0});
  EXPECT_DOUBLE_EQ(off[0], 1.0);           // without weights: the first stage, as shares of the best
  EXPECT_DOUBLE_EQ(off[1], 0.9);
}

TEST_F(RescoreTest, RareWordsWeighMore) {
  // "apple" is in every candidate; "inventories" in one: the window holding it counts more.
  const std::vector<RescoreCandidate> c = {
      {1.0, "Apple reported results for the quarter"},
      {1.0, "Apple inventories | 7,351 | 4,946"},
      {1.0, "Apple Inc. and other words"},
  };
  const std::vector<double> s = rescorer->Scores("Apple inventories", c, {0.5, 0});
  EXPECT_GT(s[1], s[0] + 0.3);
  EXPECT_DOUBLE_EQ(s[0], s[2]);
}

TEST_F(RescoreTest, WordsAreMatchedAsKeywordSearchMatchesThem) {
  // Stemmed ("filings" ~ "filed", "inventories" ~ "inventory"), folded ("Café" ~ "cafe") and
  // split at a typographic apostrophe ("Company’s").
  const std::vector<RescoreCandidate> c = {
      {1.0, "The Company\u2019s inventories were filed with the Caf\u00e9 accounts"},
      {1.0, "nothing here"},
  };
  const std::vector<double> s = rescorer->Scores("company inventory filings cafe", c, {1, 0});
  EXPECT_DOUBLE_EQ(s[0], 2.0);  // every word of the question, close together
  EXPECT_DOUBLE_EQ(s[1], 1.0);
}

TEST_F(RescoreTest, FiguresCountOnlyForAQuestionAskingForAnAmount) {
  EXPECT_TRUE(rescorer->AsksForAmount("What was Apple's gross margin in the latest quarter?"));
  EXPECT_TRUE(rescorer->AsksForAmount("How much did NVIDIA spend on research?"));
  EXPECT_FALSE(rescorer->AsksForAmount("Which risk factors were highlighted?"));
  const std::vector<RescoreCandidate> c = {
      {1.0, "Gross margin is discussed in the section on products and services"},
      {1.0, "Products gross margin | 19,975 | 20,233 | 60,798"},
  };
  const std::vector<double> amount = rescorer->Scores("What was the gross margin?", c, {0, 0.5});
  EXPECT_GT(amount[1], amount[0]);
  const std::vector<double> words = rescorer->Scores("Which products are discussed?", c, {0, 0.5});
  EXPECT_DOUBLE_EQ(words[1], words[0]);
}

TEST(QuestionTest, InstructionsOnTheAnswersFormAreNotSearched) {
  EXPECT_EQ(SearchableQuestion("What is the impact of foreign exchange rates on Amazon's financial performance? "
                               "List this out separately for each reported period."),
            "What is the impact of foreign exchange rates on Amazon's financial performance?");
  EXPECT_EQ(SearchableQuestion("What role have foreign exchange rates played? Please provide a breakdown for each "
                               "reporting period."),
            "What role have foreign exchange rates played?");
  EXPECT_EQ(SearchableQuestion("What was the gross margin percentage, rounded to two decimal places?"),
            "What was the gross margin percentage?");
  EXPECT_EQ(SearchableQuestion("Compute the ratio of debt to equity (round your answer to the nearest tenth)."),
            "Compute the ratio of debt to equity.");
  // Kept: questions that only look like it, and a question made of instructions alone.
  EXPECT_EQ(SearchableQuestion("How did Apple's Q3 2023 10-Q report net sales of $81.8 billion?"),
            "How did Apple's Q3 2023 10-Q report net sales of $81.8 billion?");
  EXPECT_EQ(SearchableQuestion("Please summarize the risk factors."), "Please summarize the risk factors.");
  EXPECT_EQ(SearchableQuestion("Answers to the round table questions"), "Answers to the round table questions");
  // A request made as an instruction is the question: instructions go only beside a question.
  EXPECT_EQ(SearchableQuestion("I uploaded Apple's 10-Q. Please give the total net sales for Q3."),
            "I uploaded Apple's 10-Q. Please give the total net sales for Q3.");
  EXPECT_EQ(SearchableQuestion("Summarize the risk factors. Answer in one paragraph."),
            "Summarize the risk factors. Answer in one paragraph.");
  // An initial's period ends no sentence; a lower-case word opens no instruction.
  EXPECT_EQ(SearchableQuestion("How did sales in the U.S. respond to tariffs?"),
            "How did sales in the U.S. respond to tariffs?");
  // Figures in a rounding clause go with it.
  EXPECT_EQ(SearchableQuestion("What was revenue (rounded to the nearest $1,000)?"), "What was revenue?");
  EXPECT_EQ(SearchableQuestion("What is the ratio (round to the nearest 0.1)?"), "What is the ratio?");
  EXPECT_EQ(SearchableQuestion("What is the margin, rounded to 2 decimal places?"), "What is the margin?");
  // Nothing left but punctuation: the question whole.
  EXPECT_EQ(SearchableQuestion("Rounded to the nearest million."), "Rounded to the nearest million.");
}

TEST(QuestionTest, AbbreviationsGainTheirLongForms) {
  EXPECT_EQ(WithLongForms("How has Apple's R&D expenditure changed?"),
            "How has Apple's R&D (research and development) expenditure changed?");
  EXPECT_EQ(WithLongForms("SG&A and EPS in Q3"),
            "SG&A (selling, general and administrative) and EPS (earnings per share) in Q3");
  EXPECT_EQ(WithLongForms("What was PP&E at year end?"), "What was PP&E (property, plant and equipment) at year end?");
  // Whole words in their listed case only; nothing added where the long form is already there.
  EXPECT_EQ(WithLongForms("SR&DX, fx and eps"), "SR&DX, fx and eps");
  EXPECT_EQ(WithLongForms("research and development (R&D) costs"), "research and development (R&D) costs");
  EXPECT_EQ(WithLongForms(""), "");
}

}  // namespace
}  // namespace betterdev::search
