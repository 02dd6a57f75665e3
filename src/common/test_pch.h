// Precompiled for unit-test targets: gtest and gmock on top of the common set.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/pch.h"
