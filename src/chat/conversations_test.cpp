#include "chat/conversations.hpp"

#include <gtest/gtest.h>

namespace betterdev::chat {
namespace {

TEST(ConversationValidation, Titles) {
  EXPECT_TRUE(ConversationService::ValidateTitle("Quarterly report").ok());
  EXPECT_TRUE(ConversationService::ValidateTitle(std::string(200, 'x')).ok());
  EXPECT_FALSE(ConversationService::ValidateTitle(std::string(201, 'x')).ok());
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "é";  // 200 characters, 400 bytes
  EXPECT_TRUE(ConversationService::ValidateTitle(accents).ok());
  EXPECT_FALSE(ConversationService::ValidateTitle("").ok());
  EXPECT_FALSE(ConversationService::ValidateTitle(" \t\n").ok());
}

TEST(ConversationValidation, DocumentIds) {
  EXPECT_TRUE(ConversationService::ValidateDocumentIds({}).ok());
  EXPECT_TRUE(ConversationService::ValidateDocumentIds({"doc_01ABC", "doc-2"}).ok());
  EXPECT_FALSE(ConversationService::ValidateDocumentIds({"a", "a"}).ok());
  EXPECT_FALSE(ConversationService::ValidateDocumentIds({""}).ok());
  EXPECT_FALSE(ConversationService::ValidateDocumentIds({"a,b"}).ok());
  EXPECT_FALSE(ConversationService::ValidateDocumentIds({"a b"}).ok());
  EXPECT_FALSE(ConversationService::ValidateDocumentIds({std::string(65, 'x')}).ok());
  std::vector<std::string> many;
  for (int i = 0; i < 101; ++i) many.push_back("d" + std::to_string(i));
  EXPECT_FALSE(ConversationService::ValidateDocumentIds(many).ok());
  many.pop_back();
  EXPECT_TRUE(ConversationService::ValidateDocumentIds(many).ok());
}

}  // namespace
}  // namespace betterdev::chat
