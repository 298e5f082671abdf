// Accounts, sessions and API keys.
#include "api/routes.hpp"

namespace betterdev::api {

void WriteUser(JsonWriter& w, const store::User& u) {
  w.BeginObject().Key("id").String(u.id).Key("email").String(u.email).Key("created_at").Timestamp(u.created_at);
  w.EndObject();
}

void WriteApiKey(JsonWriter& w, const store::ApiKey& k, std::string_view secret) {
  w.BeginObject().Key("id").String(k.id).Key("name").String(k.name).Key("prefix").String(k.prefix);
  w.Key("created_at").Timestamp(k.created_at).Key("last_used_at");
  if (k.last_used_at) w.Timestamp(*k.last_used_at);
  else w.Null();
  if (!secret.empty()) w.Key("key").String(secret);
  w.EndObject();
}

void RegisterAuthRoutes(ApiRouter& r, Services& s) {
  using http::Method;
  // Password hashing is slow on purpose: run it on the blocking pool, never on an I/O thread.
  http::RouteOptions hashing{s.http.max_json_body_bytes, true};
  http::RouteOptions json{s.http.max_json_body_bytes, false};

  r.Public(Method::kPost, "/v1/auth/register",
           {"Create an account", "auth", Ref("Credentials"), 201, Ref("User"), "application/json", {409}},
           [&s](http::Request& req) {
             API_ASSIGN(body, JsonBody::Parse(req, {"email", "password"}));
             API_ASSIGN(email, body.String("email", true));
             API_ASSIGN(password, body.String("password", true));
             auto user = s.auth.Register(*email, *password);
             if (!user.ok()) return ErrorResponse(user.status(), req, s.log);
             return ObjectResponse(201, *user, WriteUser);
           },
           hashing);

  r.Public(Method::kPost, "/v1/auth/login",
           {"Exchange e-mail and password for an access token", "auth", Ref("Credentials"), 200, Ref("Token"),
            "application/json", {401, 429}},
           [&s](http::Request& req) {
             API_ASSIGN(body, JsonBody::Parse(req, {"email", "password"}));
             API_ASSIGN(email, body.String("email", true));
             API_ASSIGN(password, body.String("password", true));
             auto token = s.auth.Login(*email, *password, req.remote_address);
             if (!token.ok()) return ErrorResponse(token.status(), req, s.log);
             return JsonResponse(200, {{"access_token", token->access_token},
                                       {"token_type", "Bearer"},
                                       {"expires_in", token->expires_in_seconds}});
           },
           hashing);

  r.Authed(Method::kPost, "/v1/auth/logout", {"Revoke the access token in use", "auth", {}, 204, {}},
           [&s](http::Request& req, const auth::Principal& who) {
             Status st = s.auth.Logout(who);
             if (!st.ok()) return ErrorResponse(st, req, s.log);
             return http::Response::NoContent();
           });

  r.Authed(Method::kGet, "/v1/me", {"The authenticated user", "auth", {}, 200, Ref("User")},
           [&s](http::Request& req, const auth::Principal& who) {
             auto user = s.auth.Me(who);
             if (!user.ok()) return ErrorResponse(user.status(), req, s.log);
             return ObjectResponse(200, *user, WriteUser);
           });

  r.Authed(Method::kPost, "/v1/api-keys",
           {"Create an API key (the secret is shown once; needs a login session, not a key)", "auth",
            Ref("ApiKeyCreate"), 201, Ref("ApiKeyCreated"), "application/json", {403}},
           [&s](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(body, JsonBody::Parse(req, {"name"}, false));
             API_ASSIGN(name, body.String("name", false));
             auto key = s.auth.CreateApiKey(who, name.value_or("default"));
             if (!key.ok()) return ErrorResponse(key.status(), req, s.log);
             return ObjectResponse(201, *key, [](JsonWriter& w, const auth::CreatedApiKey& k) {
               WriteApiKey(w, k.key, k.secret);
             });
           },
           json);

  r.Authed(Method::kGet, "/v1/api-keys",
           {"List API keys, newest first (needs a login session)", "auth", {}, 200, ListOf("ApiKey"), "application/json",
            {403}, true},
           [&s](http::Request& req, const auth::Principal& who) {
             API_ASSIGN(page, ParsePage(req));
             auto keys = s.auth.ListApiKeys(who, page);
             if (!keys.ok()) return ErrorResponse(keys.status(), req, s.log);
             return ListResponse(*keys, [](JsonWriter& w, const store::ApiKey& k) { WriteApiKey(w, k); });
           });

  r.Authed(Method::kDelete, "/v1/api-keys/{id}",
           {"Delete an API key (needs a login session)", "auth", {}, 204, {}, "application/json", {403, 404}},
           [&s](http::Request& req, const auth::Principal& who) {
             Status st = s.auth.DeleteApiKey(who, std::string(req.PathParam("id")));
             if (!st.ok()) return ErrorResponse(st, req, s.log);
             return http::Response::NoContent();
           });
}

}  // namespace betterdev::api
