#pragma once
// Everything a plugin needs, in one include.

#include "gatherd/sdk/abi.hpp"
#include "gatherd/sdk/config.hpp"
#include "gatherd/sdk/host.hpp"
#include "gatherd/sdk/metric_family.hpp"
#include "gatherd/sdk/plugin.hpp"
#include "gatherd/sdk/record.hpp"
#include "gatherd/sdk/sink.hpp"
#include "gatherd/sdk/source.hpp"
#include "gatherd/sdk/status.hpp"
#include "gatherd/sdk/store.hpp"
#include "gatherd/sdk/streams.hpp"
#include "gatherd/sdk/telemetry.hpp"
