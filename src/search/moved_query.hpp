// Hybrid's vector feedback for retrievers whose vectors are not in this process: the query
// moved toward the keyword leg's best chunks (index::MoveQueryToward), their vectors read from
// the store. Seeds without a vector of `model` are skipped; without any, the query as it is.
#pragma once

#include <span>
#include <vector>

#include "core/status.hpp"
#include "index/fusion.hpp"
#include "store/store.hpp"

namespace betterdev::search {

Result<std::vector<float>> MovedQuery(store::SearchRepository& store, const store::VectorModel& model,
                                      std::span<const float> query, std::span<const index::Ranked> feedback);

}  // namespace betterdev::search
