// An InferenceConfig from what Python code passes as `config`: an
// InferenceConfig, a YAML file path (str or os.PathLike), or a mapping with
// the YAML keys (the mapping itself, or one holding it under
// "inference_config"). A mapping goes through the same parser as a YAML file
// (python/inferloop/_config.py turns it into JSON text, a subset of YAML),
// so it gets the same validation and messages: every bad key, with a "did you
// mean" hint, named with the line of the JSON text that holds it.
//
// Throws inferloop::Error for a bad config, TypeError for another kind of
// object. Call with the GIL held.
#pragma once

#include "bindings.hpp"
#include "inferloop/config.hpp"

namespace inferloop::python {

[[nodiscard]] InferenceConfig to_config(nanobind::handle object);

}  // namespace inferloop::python
