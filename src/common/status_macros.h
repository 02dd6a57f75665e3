// Debian's Abseil (20220623) predates absl's own status macros, so we carry two small ones.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KUMO_CONCAT_INNER(a, b) a##b
#define KUMO_CONCAT(a, b) KUMO_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::absl::Status kumo_status_ = (expr);        \
    if (!kumo_status_.ok()) return kumo_status_; \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(*tmp)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(KUMO_CONCAT(kumo_statusor_, __LINE__), lhs, expr)
