// The umbrella header: everything an application needs.
#pragma once

#include "inferloop/clock.hpp"
#include "inferloop/config.hpp"
#include "inferloop/error.hpp"
#include "inferloop/feature_slot.hpp"
#include "inferloop/inference_loop.hpp"
#include "inferloop/metrics.hpp"
#include "inferloop/mlflow.hpp"
#include "inferloop/model_source.hpp"
#include "inferloop/prediction.hpp"
#include "inferloop/predictor.hpp"
#include "inferloop/replay.hpp"
#include "inferloop/stats.hpp"
#include "inferloop/version.hpp"
