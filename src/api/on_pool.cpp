#include "api/on_pool.hpp"

#include <atomic>
#include <exception>

#include "api/json_io.hpp"

namespace betterdev::api {
namespace {

class PoolWork final : public http::StreamProducer, public std::enable_shared_from_this<PoolWork> {
 public:
  PoolWork(std::shared_ptr<TaskPool> pool, std::function<http::Response()> work)
      : pool_(std::move(pool)), work_(std::move(work)) {}

  void Start(std::shared_ptr<http::StreamSink> sink) override {
    pool_->Post([self = shared_from_this(), sink = std::move(sink)] {
      if (self->stopped_.load()) return;  // the client left while the work waited
      http::Response res;
      try {
        res = self->work_();
      } catch (const std::exception& e) {
        res = ErrorResponse(HttpError{500, "internal", "internal error"});
      }
      sink->Reply(std::move(res));
    });
  }
  void Stop(http::StreamEnd) override { stopped_ = true; }

 private:
  std::shared_ptr<TaskPool> pool_;
  std::function<http::Response()> work_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

http::Response OnPool(std::shared_ptr<TaskPool> pool, std::function<http::Response()> work) {
  http::StreamOptions o;
  o.deferred = true;
  return http::Response::Stream(200, "application/json", std::make_shared<PoolWork>(std::move(pool), std::move(work)), o);
}

}  // namespace betterdev::api
