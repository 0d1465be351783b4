#include "chatdesk/gateway/report_json.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

namespace chatdesk::gateway::reports {
namespace json = boost::json;
namespace {

json::value ms_or_null(const std::optional<Duration>& d) {
  return d ? json::value(d->count()) : json::value(nullptr);
}

json::value number_or_null(const std::optional<double>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

std::string day_text(date::local_days day) {
  return date::format("%F", day);
}

// RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled.
void csv_field(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out.append(field);
    return;
  }
  out.push_back('"');
  for (char ch : field) {
    if (ch == '"') out.push_back('"');
    out.push_back(ch);
  }
  out.push_back('"');
}

std::string csv_number(std::optional<double> v, int decimals) {
  if (!v) return {};
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, *v, std::chars_format::fixed, decimals);
  return std::string(buf, r.ptr);
}

std::string csv_ms(const std::optional<Duration>& d) {
  return d ? std::to_string(d->count()) : std::string();
}

}  // namespace

std::string_view to_string(Bucket bucket) {
  switch (bucket) {
    case Bucket::day:
      return "day";
    case Bucket::week:
      return "week";
    case Bucket::month:
      return "month";
  }
  return "day";
}

json::object kpis_json(const Kpis& k) {
  json::object o;
  o["conversations"] = k.conversations;
  o["served"] = k.served;
  o["missed"] = k.missed;
  o["empty"] = k.empty;
  o["first_responses"] = k.first_responses;
  o["first_response_mean_ms"] = ms_or_null(k.first_response_mean);
  o["first_response_median_ms"] = ms_or_null(k.first_response_median);
  o["first_response_p90_ms"] = ms_or_null(k.first_response_p90);
  o["greeted_within_target"] = number_or_null(k.greeted_within_target);
  o["greeted_within_limit"] = number_or_null(k.greeted_within_limit);
  o["reply_waits"] = k.reply_waits;
  o["reply_wait_mean_ms"] = ms_or_null(k.reply_wait_mean);
  o["replies_within_limit"] = number_or_null(k.replies_within_limit);
  o["loss_rate"] = number_or_null(k.loss_rate);
  o["typing_cpm_mean"] = number_or_null(k.typing_cpm_mean);
  json::object violations;
  for (std::size_t i = 0; i < monitor::kRuleCount; ++i)
    violations[monitor::to_string(static_cast<monitor::Rule>(i))] = k.violations[i];
  o["violations"] = std::move(violations);
  o["transfers"] = k.transfers;
  o["handovers"] = k.handovers;
  o["converted"] = k.converted;
  o["orders"] = k.orders;
  o["order_amount_cents"] = k.order_amount_cents;
  o["conversion_rate"] = number_or_null(k.conversion_rate);
  o["ratings"] = k.ratings;
  o["rating_mean"] = number_or_null(k.rating_mean);
  return o;
}

std::string report_json(const ReportHeader& header, const Report& report,
                        const std::vector<RankedAgent>& ranking) {
  json::object o;
  o["shop"] = header.shop;
  o["timezone"] = header.timezone;
  o["from"] = day_text(header.first);
  o["to"] = day_text(header.last);
  o["bucket"] = to_string(header.bucket);
  o["variant"] = header.marketplace ? "marketplace" : "all";
  o["excluded_quiet"] = report.excluded_quiet;
  o["kpis"] = kpis_json(report.shop);
  json::array ranked;
  for (const RankedAgent& a : ranking) {
    json::object r;
    r["agent"] = a.agent;
    r["place"] = a.place;
    r["score"] = number_or_null(a.score);
    r["first"] = a.first;
    r["last"] = a.last;
    r["components"] = {{"greeting", a.greeting},
                       {"replies", a.replies},
                       {"loss", a.loss},
                       {"conversion", a.conversion},
                       {"satisfaction", a.satisfaction}};
    if (auto k = report.agents.find(a.agent); k != report.agents.end())
      r["kpis"] = kpis_json(k->second);
    ranked.push_back(std::move(r));
  }
  o["ranking"] = std::move(ranked);
  json::array buckets;
  for (const BucketKpis& b : report.buckets) {
    json::object agents;
    for (const auto& [agent, k] : b.agents) agents[agent] = kpis_json(k);
    buckets.push_back(json::object{
        {"start", day_text(b.start)}, {"kpis", kpis_json(b.shop)}, {"agents", agents}});
  }
  o["buckets"] = std::move(buckets);
  return json::serialize(o);
}

std::string ranking_csv(const Report& report, const std::vector<RankedAgent>& ranking) {
  std::string out = "\xEF\xBB\xBF";  // UTF-8 byte order mark
  out +=
      "place,agent,score,first,last,conversations,served,missed,first_response_mean_ms,"
      "first_response_median_ms,first_response_p90_ms,greeted_within_target,loss_rate,"
      "conversion_rate,orders,order_amount_cents,rating_mean,ratings\r\n";
  for (const RankedAgent& a : ranking) {
    const auto found = report.agents.find(a.agent);
    const Kpis k = found == report.agents.end() ? Kpis{} : found->second;
    out += a.place > 0 ? std::to_string(a.place) : std::string();
    out += ',';
    csv_field(out, a.agent);
    for (const std::string& field :
         {csv_number(a.score, 1), std::string(a.first ? "1" : ""), std::string(a.last ? "1" : ""),
          std::to_string(k.conversations), std::to_string(k.served), std::to_string(k.missed),
          csv_ms(k.first_response_mean), csv_ms(k.first_response_median),
          csv_ms(k.first_response_p90), csv_number(k.greeted_within_target, 4),
          csv_number(k.loss_rate, 4), csv_number(k.conversion_rate, 4), std::to_string(k.orders),
          std::to_string(k.order_amount_cents), csv_number(k.rating_mean, 2),
          std::to_string(k.ratings)}) {
      out += ',';
      csv_field(out, field);
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace chatdesk::gateway::reports
