#pragma once
// The chat texts the load generator sends: short Chinese shop conversations cut to exactly the
// wanted number of Unicode code points. Customers ask, agents answer (greeting first, no phrase to
// avoid), and one answer variant holds a phrase to avoid (但是) so that the SLA engine's language
// rule fires and the violation goes to Redis. Pure: safe from any thread.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace chatdesk::bench {

struct TextPool {
  std::vector<std::string> customer;  // questions
  std::vector<std::string> agent;     // polite answers
  std::string agent_avoid;            // an answer with a phrase to avoid
};

// Every text has exactly `chars` code points (chars >= 1) and needs no JSON escaping.
TextPool make_texts(std::size_t chars);

// Code points in valid UTF-8 `text`.
std::size_t code_points(std::string_view text);

}  // namespace chatdesk::bench
