#pragma once
// What simulated people say: Chinese e-commerce questions for customers and polite (now and then
// impolite) answers for agents. Agents pick texts that fit the time they have to type them;
// customers recognise the agents' stock phrases so they keep waiting after a greeting or a
// "please wait". Immutable after construction: shared by every simulated person.

#include <cstddef>
#include <random>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace chatdesk::sim {

using Rng = std::mt19937_64;

// Unicode code points of UTF-8 text (how the gateway counts lengths and typing rates).
std::size_t code_points(std::string_view text);

class PhraseBook {
 public:
  PhraseBook();

  // --- customers ---
  const std::string& question(Rng& rng) const;  // first question, 10-40 code points
  const std::string& follow_up(Rng& rng) const;
  const std::string& thanks(Rng& rng) const;  // a last "thank you" that asks for nothing more

  // --- agents ---
  // A greeting of at most `max_chars` code points when one fits (else the shortest); `polite`
  // false picks one without a greeting phrase (a courtesy warning).
  const std::string& greeting(Rng& rng, std::size_t max_chars, bool polite) const;
  const std::string& hold(Rng& rng) const;  // "please wait": short, answers the customer for now
  // An answer; `negative` picks one with an avoided phrase (但是, 我不能, ...).
  const std::string& answer(Rng& rng, bool negative) const;
  // A closing line; `polite` false leaves out the farewell phrase (a courtesy warning).
  const std::string& farewell(Rng& rng, bool polite) const;
  const std::string& handover_note(Rng& rng) const;

  // --- what a customer makes of an agent's message ---
  enum class AgentLine { greeting, hold, farewell, answer };
  AgentLine classify(const std::string& agent_text) const;
  bool is_thanks(const std::string& customer_text) const;

 private:
  std::vector<std::string> questions_, follow_ups_, thanks_;
  std::vector<std::string> greetings_, curt_greetings_, holds_, answers_, negative_answers_;
  std::vector<std::string> farewells_, curt_farewells_, handover_notes_;
  std::unordered_set<std::string> greeting_set_, hold_set_, farewell_set_, thanks_set_;
};

}  // namespace chatdesk::sim
