// `betterdev ingest PATH...`: uploads files and folders to a running server, shows progress per
// file and overall until each ends ready or failed, prints a summary. Exit code 1 when any failed.
#pragma once

#include "app/cli.hpp"

namespace betterdev::app {

int RunIngestClient(const Invocation& inv);

}  // namespace betterdev::app
