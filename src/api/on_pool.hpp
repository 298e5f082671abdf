// A handler's slow part on a pool of its own: the route answers with a deferred response
// (http/stream.hpp) whose work runs on `pool`, so it holds neither an I/O thread nor the shared
// blocking pool (password hashing, upload completion) while it runs. A client that leaves
// before the work starts spares it.
#pragma once

#include <functional>
#include <memory>

#include "core/task_pool.hpp"
#include "http/message.hpp"

namespace betterdev::api {

http::Response OnPool(std::shared_ptr<TaskPool> pool, std::function<http::Response()> work);

}  // namespace betterdev::api
