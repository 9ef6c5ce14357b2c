// libcurl's process-wide set-up, shared by everything in inferloop that makes
// HTTP requests (remote predictors, the MLflow client).
#pragma once

namespace inferloop::detail {

// Calls curl_global_init once per process, before the first easy handle:
// it is not thread-safe in older libcurl. Never cleaned up, since other code
// in the process may use curl too. Throws inferloop::Error if it fails.
void init_curl_once();

}  // namespace inferloop::detail
