// An account's invoice for a month (issue 7, operators): the bill as a printable HTML page, one
// line per usage type and instance, each traceable to its billed seconds and rate.
#pragma once

#include <string>

#include "billing/ledger.h"
#include "store/store.h"

namespace kumo::services {

std::string InvoiceHtml(const billing::Bill& bill, const store::Account& account);

}  // namespace kumo::services
