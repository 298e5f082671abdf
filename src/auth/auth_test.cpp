#include <gtest/gtest.h>

#include "auth/auth_service.hpp"
#include "auth/password.hpp"
#include "auth/secrets.hpp"
#include "auth/throttle.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "testutil/testutil.hpp"

namespace betterdev::auth {
namespace {

using testutil::FakeClock;

TEST(Password, HashesWithArgon2idAndVerifies) {
  PasswordHasher hasher(1024, 1);
  auto h = hasher.Hash("correct horse");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(h->starts_with("$argon2id$"));
  EXPECT_TRUE(hasher.Verify("correct horse", *h));
  EXPECT_FALSE(hasher.Verify("correct horsE", *h));
  EXPECT_FALSE(hasher.Verify("correct horse", "not a hash"));
  EXPECT_NE(*hasher.Hash("correct horse"), *h);  // salted
}

TEST(Secrets, CarryA256BitSecretAndStoreOnlyItsHash) {
  Secret a = NewSecret(kAccessTokenPrefix);
  Secret b = NewSecret(kAccessTokenPrefix);
  EXPECT_TRUE(a.value.starts_with("bd_at_"));
  EXPECT_EQ(a.value.size(), 6u + 43u);  // 32 bytes in unpadded base64url
  EXPECT_NE(a.value, b.value);
  EXPECT_EQ(a.hash.size(), 64u);
  EXPECT_EQ(a.hash, HashSecret(a.value));
  EXPECT_EQ(HashSecret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Throttle, LocksAfterMaxFailuresAndBacksOffExponentially) {
  FakeClock clock;
  Throttle t({.max_failures = 3, .window_ms = 60000, .lockout_base_ms = 2000, .lockout_max_ms = 10000}, clock);
  for (int i = 0; i < 2; ++i) t.RecordFailure("k");
  EXPECT_EQ(t.RetryAfterSeconds("k"), 0);
  t.RecordFailure("k");
  EXPECT_EQ(t.RetryAfterSeconds("k"), 2);
  EXPECT_EQ(t.RetryAfterSeconds("other"), 0);
  clock.Advance(2000);
  EXPECT_EQ(t.RetryAfterSeconds("k"), 0);
  t.RecordFailure("k");
  EXPECT_EQ(t.RetryAfterSeconds("k"), 4);
  clock.Advance(4000);
  t.RecordFailure("k");
  EXPECT_EQ(t.RetryAfterSeconds("k"), 8);
  clock.Advance(8000);
  t.RecordFailure("k");
  EXPECT_EQ(t.RetryAfterSeconds("k"), 10);  // capped
  t.RecordSuccess("k");
  EXPECT_EQ(t.RetryAfterSeconds("k"), 0);
}

TEST(Throttle, FailuresOutsideTheWindowAreForgotten) {
  FakeClock clock;
  Throttle t({.max_failures = 2, .window_ms = 1000, .lockout_base_ms = 1000, .lockout_max_ms = 1000}, clock);
  t.RecordFailure("k");
  clock.Advance(1500);
  t.RecordFailure("k");
  EXPECT_EQ(t.RetryAfterSeconds("k"), 0);
}

TEST(Throttle, MemoryIsBounded) {
  FakeClock clock;
  Throttle t({.max_failures = 1, .window_ms = 1000000, .lockout_base_ms = 1000000, .lockout_max_ms = 1000000,
              .max_entries = 10},
             clock);
  for (int i = 0; i < 100; ++i) {
    t.RecordFailure("k" + std::to_string(i));
    clock.Advance(1);
  }
  EXPECT_GT(t.RetryAfterSeconds("k99"), 0);  // the newest is kept
  EXPECT_EQ(t.RetryAfterSeconds("k0"), 0);   // the stalest were evicted
}

class AuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::OpenSqliteStore({dir.File("auth.db")});
    ASSERT_TRUE(s.ok());
    db = std::move(*s);
    config.argon2_memlimit_kib = 1024;
    config.argon2_opslimit = 1;
    config.login_max_failures = 3;
    config.login_ip_max_failures = 5;
    config.token_ttl_seconds = 3600;
    auth = std::make_unique<AuthService>(*db, clock, ids, config);
  }

  std::string Login(const std::string& email, const std::string& pw, const std::string& addr = "10.0.0.1") {
    auto t = auth->Login(email, pw, addr);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? t->access_token : "";
  }

  testutil::TempDir dir;
  FakeClock clock;
  IdGenerator ids{clock};
  AuthConfig config;
  std::unique_ptr<store::Store> db;
  std::unique_ptr<AuthService> auth;
};

TEST_F(AuthServiceTest, RegisterValidatesInput) {
  EXPECT_EQ(auth->Register("not-an-email", "long enough").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(auth->Register("a@b", "long enough").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(auth->Register("a b@c.de", "long enough").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(auth->Register("a@b.de", "").status().message(), "password must not be empty");
  EXPECT_EQ(auth->Register("a@b.de", "short").status().code(), StatusCode::kInvalidArgument);
  auto u = auth->Register("a@b.de", "long enough");
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->id.starts_with("usr_"));
  EXPECT_NE(u->password_hash, "long enough");
  EXPECT_EQ(auth->Register("A@B.DE", "long enough").status().code(), StatusCode::kConflict);
}

TEST_F(AuthServiceTest, LoginIssuesTokensThatExpireAndRevoke) {
  ASSERT_TRUE(auth->Register("a@b.de", "long enough").ok());
  EXPECT_EQ(auth->Login("a@b.de", "wrong password", "x").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth->Login("nobody@b.de", "long enough", "x").status().message(),
            auth->Login("a@b.de", "wrong password", "y").status().message());

  std::string token = Login("A@b.de", "long enough");
  auto who = auth->Authenticate(token);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(auth->Me(*who)->email, "a@b.de");
  EXPECT_EQ(auth->Authenticate(token + "x").status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(auth->Authenticate("garbage").status().code(), StatusCode::kUnauthenticated);

  EXPECT_EQ(*auth->PurgeExpiredTokens(), 0);  // not expired yet: kept
  clock.Advance(3600 * 1000);
  EXPECT_EQ(auth->Authenticate(token).status().code(), StatusCode::kUnauthenticated);
  const std::string fresh = Login("a@b.de", "long enough");
  clock.Advance(1);  // past its last millisecond
  EXPECT_EQ(*auth->PurgeExpiredTokens(), 1);  // the expired one goes, the fresh one stays
  EXPECT_EQ(*auth->PurgeExpiredTokens(), 0);
  EXPECT_TRUE(auth->Authenticate(fresh).ok());

  std::string second = Login("a@b.de", "long enough");
  auto who2 = auth->Authenticate(second);
  ASSERT_TRUE(who2.ok());
  ASSERT_TRUE(auth->Logout(*who2).ok());
  EXPECT_EQ(auth->Authenticate(second).status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, RepeatedFailuresAreSlowedPerAccount) {
  ASSERT_TRUE(auth->Register("a@b.de", "long enough").ok());
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(auth->Login("a@b.de", "wrong password", "10.0.0." + std::to_string(i)).status().code(),
              StatusCode::kUnauthenticated);
  auto locked = auth->Login("a@b.de", "long enough", "10.0.0.9");
  EXPECT_EQ(locked.status().code(), StatusCode::kResourceExhausted);
  EXPECT_GE(locked.status().retry_after_seconds(), 1);
  clock.Advance(int64_t{locked.status().retry_after_seconds()} * 1000);
  Login("a@b.de", "long enough", "10.0.0.9");
  // Success cleared the account's record.
  EXPECT_EQ(auth->Login("a@b.de", "wrong password", "10.0.0.8").status().code(), StatusCode::kUnauthenticated);
}

TEST_F(AuthServiceTest, RepeatedFailuresAreSlowedPerAddress) {
  ASSERT_TRUE(auth->Register("a@b.de", "long enough").ok());
  for (int i = 0; i < 5; ++i)
    (void)auth->Login("user" + std::to_string(i) + "@b.de", "wrong password", "10.9.9.9");
  EXPECT_EQ(auth->Login("a@b.de", "long enough", "10.9.9.9").status().code(), StatusCode::kResourceExhausted);
  Login("a@b.de", "long enough", "10.1.1.1");
}

TEST_F(AuthServiceTest, ApiKeysAuthenticateUntilDeleted) {
  ASSERT_TRUE(auth->Register("a@b.de", "long enough").ok());
  ASSERT_TRUE(auth->Register("c@d.de", "long enough").ok());
  auto alice = *auth->Authenticate(Login("a@b.de", "long enough"));
  auto carol = *auth->Authenticate(Login("c@d.de", "long enough"));
  EXPECT_EQ(auth->CreateApiKey(alice, "").status().code(), StatusCode::kInvalidArgument);
  auto key = auth->CreateApiKey(alice, "ci");
  ASSERT_TRUE(key.ok());
  EXPECT_TRUE(key->secret.starts_with("bd_sk_"));
  EXPECT_TRUE(key->secret.starts_with(key->key.prefix));

  auto who = auth->Authenticate(key->secret);
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->user_id, alice.user_id);
  EXPECT_EQ(who->kind, Principal::Kind::kApiKey);
  EXPECT_EQ(auth->Logout(*who).code(), StatusCode::kInvalidArgument);
  // A key manages no keys: a leaked one cannot mint a successor or revoke its owner's keys.
  EXPECT_EQ(auth->CreateApiKey(*who, "successor").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(auth->ListApiKeys(*who, {}).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(auth->DeleteApiKey(*who, key->key.id).code(), StatusCode::kPermissionDenied);
  auto listed = auth->ListApiKeys(alice, {});
  ASSERT_EQ(listed->items.size(), 1u);
  EXPECT_TRUE(listed->items[0].last_used_at.has_value());
  EXPECT_TRUE(auth->ListApiKeys(carol, {})->items.empty());

  EXPECT_EQ(auth->DeleteApiKey(carol, key->key.id).code(), StatusCode::kNotFound);
  ASSERT_TRUE(auth->DeleteApiKey(alice, key->key.id).ok());
  EXPECT_EQ(auth->Authenticate(key->secret).status().code(), StatusCode::kUnauthenticated);
}

}  // namespace
}  // namespace betterdev::auth
