#pragma once
// The reports API's answers (docs/reports.md, "API"): a report with its ranking as JSON, and the
// ranking as CSV for Excel. Pure formatting; thread-safe.

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "chatdesk/gateway/report.hpp"
#include "chatdesk/gateway/report_ranking.hpp"

namespace chatdesk::gateway::reports {

// What the report was asked for, echoed in the answer.
struct ReportHeader {
  std::string shop;
  std::string timezone;
  date::local_days first{}, last{};
  Bucket bucket = Bucket::day;
  bool marketplace = false;  // quiet hours left out
};

std::string_view to_string(Bucket bucket);

// One set of figures: durations in ms, shares from 0 to 1, null where nothing was measured.
boost::json::object kpis_json(const Kpis& k);

// {"shop", "timezone", "from", "to", "bucket", "variant", "excluded_quiet", "kpis", "ranking",
//  "buckets"}; see docs/reports.md.
std::string report_json(const ReportHeader& header, const Report& report,
                        const std::vector<RankedAgent>& ranking);

// The ranking as CSV: UTF-8 with a byte order mark (so that Excel reads Chinese right), CRLF
// line ends, RFC 4180 quoting; one row per agent, ranked ones first.
std::string ranking_csv(const Report& report, const std::vector<RankedAgent>& ranking);

}  // namespace chatdesk::gateway::reports
